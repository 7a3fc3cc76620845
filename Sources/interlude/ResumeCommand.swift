import ArgumentParser
import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Synchronization

/// `interlude resume THREAD`: answers a thread's interrupt and waits for what happened.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Answer a thread's pending interrupt (publishes a resume command) and wait for the outcome.",
        discussion: """
            Publishes a resume command to the resumes topic (INTERLUDE_KAFKA_BOOTSTRAP_SERVERS, INTERLUDE_TOPIC_PREFIX) \
            and waits for the thread's next outcome on the events and reviews topics: completed (with the final \
            values), failed, rejected (with the reason) or the next interrupt. Exits 0 when the thread completed or \
            asks again, 2 when the resume was rejected or the run failed, 1 when no outcome came in time.
            """)

    @Argument(help: "The thread id.")
    var thread: String

    @Option(help: "The answer, as JSON, when the thread has one pending interrupt.")
    var value: String?

    @Option(name: .customLong("answer"), help: ArgumentHelp("An answer by interrupt id, as ID=JSON (repeat for several).", valueName: "id=json"))
    var answers: [String] = []

    @Option(help: "Command id (idempotency key). Default: a new one, prefixed with --actor (or cli).")
    var id: String?

    @OptionGroup var who: ActorOptions

    @Option(help: "Seconds to wait for the outcome. Default: 30.")
    var timeout: Double = 30

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (value == nil) != answers.isEmpty else {
            throw ValidationError("give either --value JSON (the one pending interrupt) or --answer ID=JSON (by interrupt id), not both and not neither")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        let body: CommandMessage.Body
        if let value {
            body = .resume(value: try Self.parse(value, what: "--value"), values: nil, checkpointID: nil)
        } else {
            var values: [String: JSONValue] = [:]
            for answer in answers {
                guard let equals = answer.firstIndex(of: "="), equals != answer.startIndex else {
                    throw DemoError("--answer \(answer) is not ID=JSON: give the interrupt id ('interlude state \(thread)' shows them), '=', then the answer as JSON")
                }
                values[String(answer[..<equals])] = try Self.parse(String(answer[answer.index(after: equals)...]), what: "--answer \(answer[..<equals])")
            }
            body = .resume(value: nil, values: values, checkpointID: nil)
        }
        let command = CommandMessage(
            id: id ?? "\(who.actor ?? "cli")/\(UUID().uuidString.lowercased())", threadID: thread, body: body, actor: who.reviewActor)
        let environment = try DeploymentEnvironment()
        let logger = makeLogger("interlude.resume")
        let topics = environment.topics
        let admin = try KafkaAdmin(configuration: environment.adminConfiguration(), logger: logger)
        let partitionCounts = Dictionary(try await admin.listTopics().map { ($0.name, $0.partitionCount) }) { a, _ in a }
        let watched = try [topics.events, topics.reviews].flatMap { topic -> [TopicPartition] in
            guard let count = partitionCounts[topic] else {
                throw DemoError("topic '\(topic)' does not exist at \(environment.bootstrapServers): check INTERLUDE_TOPIC_PREFIX and INTERLUDE_KAFKA_BOOTSTRAP_SERVERS ('interlude topics' creates them)")
            }
            return (0..<Int32(count)).map { TopicPartition(topic: topic, partition: $0) }
        }
        let reader = try KafkaPartitionReader(configuration: environment.consumerConfiguration(groupID: "interlude.cli"), logger: logger)
        // Where the outcome topics end before the command is sent: the outcome comes after.
        let start = try await reader.watermarks(watched).mapValues(\.high)
        let producer = try KafkaProducer(configuration: environment.producerConfiguration(), logger: logger)
        try await CommandClient(producer: producer, topics: topics).send(command)
        await producer.close()
        if !output.json { Output.write("sent resume \(command.id) to thread \(thread); waiting for the outcome...") }

        let watch = OutcomeWatch(thread: thread, commandID: command.id)
        _ = try await reader.follow(from: start, timeout: .seconds(timeout)) { watch.see($0) }
        guard let outcome = watch.outcome else {
            throw DemoError("no outcome for thread '\(thread)' within \(timeout) s: is a worker running for this deployment? ('interlude state \(thread)' shows where the thread stands)")
        }
        if output.json {
            try Output.json(outcome)
        } else {
            Output.write(Self.describe(outcome))
        }
        // Not `throw ExitCode(2)`: `main` turns every error into status 1.
        if outcome["type"] == "rejected" || outcome["type"] == "failed" { Foundation.exit(2) }
    }

    static func parse(_ text: String, what: String) throws -> JSONValue {
        switch JSONValue.parsing(Data(text.utf8)) {
        case .success(let value): return value
        case .failure(let error):
            throw DemoError("\(what) is not JSON (\(error)): quote strings (--value '\"yes\"'), or give true, 3, {\"approved\": true}")
        }
    }

    static func describe(_ outcome: JSONValue) -> String {
        switch outcome["type"]?.stringValue {
        case "completed":
            return "completed\n" + indent((try? prettyJSON(outcome["values"] ?? .null)) ?? "", by: 2)
        case "failed":
            return "failed: \(outcome["reason"]?.stringValue ?? "?")"
        case "rejected":
            return "rejected (\(outcome["reason"]?.stringValue ?? "?")): \(outcome["message"]?.stringValue ?? "")"
        default:
            let interrupts = outcome["interrupts"]?.arrayValue ?? []
            return "asks again\n" + indent(Output.table(
                ["INTERRUPT", "NODE", "DEADLINE", "VALUE"],
                interrupts.map { [$0["interrupt_id"]?.stringValue ?? "?", $0["node"]?.stringValue ?? "?", $0["deadline"]?.stringValue ?? "-", abbreviate(($0["value"] ?? .null).description)] }), by: 2)
        }
    }
}

/// Picks the outcome of one resume out of the thread's events: the `rejected` event naming
/// the command, the thread's next `completed` or `failed` event, or its next interrupts (all
/// the `interrupt` events of that checkpoint, known complete once the command's `step` event
/// came).
final class OutcomeWatch: Sendable {
    let thread: String
    let commandID: String
    private let state = Mutex<(outcome: JSONValue?, interrupts: [JSONValue], stepCheckpoint: String?)>((nil, [], nil))

    init(thread: String, commandID: String) {
        self.thread = thread
        self.commandID = commandID
    }

    /// The outcome, once known; after a timeout, the interrupts seen so far.
    var outcome: JSONValue? {
        state.withLock { state in
            state.outcome ?? (state.interrupts.isEmpty ? nil : Self.interrupted(thread, state.interrupts))
        }
    }

    /// Takes one message; `true` once the outcome is known.
    func see(_ message: KafkaMessage) -> Bool {
        guard let event = try? JSONValue(json: Data(message.value)), event["thread_id"]?.stringValue == thread else { return false }
        return state.withLock { state in
            switch event["type"]?.stringValue {
            case "rejected" where event["command_id"]?.stringValue == commandID, "completed", "failed":
                state.outcome = event
            case "interrupt":
                if let first = state.interrupts.first, first["checkpoint_id"] != event["checkpoint_id"] { break }
                state.interrupts.append(event)
            case "step" where event["command_id"]?.stringValue == commandID && event["status"] == "interrupted":
                state.stepCheckpoint = event["checkpoint_id"]?.stringValue
            default:
                break
            }
            if state.outcome == nil, let checkpoint = state.stepCheckpoint, state.interrupts.contains(where: { $0["checkpoint_id"]?.stringValue == checkpoint }) {
                state.outcome = Self.interrupted(thread, state.interrupts)
            }
            return state.outcome != nil
        }
    }

    static func interrupted(_ thread: String, _ interrupts: [JSONValue]) -> JSONValue {
        [
            "type": "interrupt", "thread_id": .string(thread),
            "checkpoint_id": interrupts.first?["checkpoint_id"] ?? .null,
            "interrupts": .array(interrupts.map { event in
                var object: [String: JSONValue] = [:]
                for key in ["interrupt_id", "node", "value", "deadline", "graph", "graph_version"] { object[key] = event[key] }
                return .object(object)
            }),
        ]
    }
}

/// `--actor` and `--role`: who answers, for the commands that send answers (`resume`,
/// `review`). The worker checks the actor against an interrupt's approvers and keeps its id as
/// the interrupt's `resolved_by`.
struct ActorOptions: ParsableArguments {
    @Option(help: "Who answers: the actor id sent with each answer, checked against the interrupt's approvers and kept as resolved_by. Default: none.")
    var actor: String?

    @Option(name: .customLong("role"), help: ArgumentHelp("A role the actor holds (repeat for several). Needs --actor.", valueName: "role"))
    var roles: [String] = []

    /// The actor the options name, or nil.
    var reviewActor: ReviewActor? { actor.map { ReviewActor($0, roles: roles) } }

    func validate() throws {
        for (option, text) in (actor.map { [("--actor", $0)] } ?? []) + roles.map({ ("--role", $0) }) {
            guard !text.isEmpty, text.utf8.count <= 200, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw ValidationError("\(option) must be 1 to 200 bytes without control characters")
            }
        }
        guard roles.isEmpty || actor != nil else { throw ValidationError("--role needs --actor: roles belong to the actor who answers") }
    }
}
