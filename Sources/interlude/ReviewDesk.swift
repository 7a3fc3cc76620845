import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Logging
import Synchronization

/// What a reviewer can type, per graph: short answers for the example graphs, raw JSON for any.
enum AnswerPresets {
    static func help(graph: String, value: JSONValue? = nil) -> String {
        if let request = value.flatMap(ReviewRequest.init(json:)) {
            let allowed = request.reviewConfigs.flatMap(\.allowedDecisions).reduce(into: [ReviewDecisionType]()) { if !$0.contains($1) { $0.append($1) } }
            let words: [ReviewDecisionType: String] = [
                .approve: "a = approve", .edit: "e {json} = edit the arguments", .reject: "r [feedback] = reject", .respond: "respond <text> = answer as the tool",
            ]
            let one = request.actionRequests.count == 1 ? allowed.compactMap { words[$0] }.joined(separator: ", ") + ", or " : ""
            return one + "a JSON answer {\"decisions\": [...]} with one decision per call (allowed: \(allowed.map(\.rawValue).joined(separator: ", ")))"
        }
        return switch graph {
        case "approval": "a [comment] = approve, r [reason] = reject, e <text> = edit the draft and ask again, or a JSON answer"
        case "subgraph-review": "a = approve, r = reject, e <text> = publish this text instead, or a JSON answer"
        default: "type the answer as JSON (e.g. true, \"text\", {\"field\": 1})"
        }
    }

    /// The command a reviewer's line means for this review, or an explanation of what to type.
    static func command(for line: String, review: JSONValue, actor: ReviewActor? = nil) -> Result<CommandMessage, DemoError> {
        let thread = review["thread_id"]?.stringValue ?? ""
        let interrupt = review["interrupt_id"]?.stringValue ?? ""
        let graph = review["graph"]?.stringValue ?? ""
        let id = "review-\(UUID().uuidString.lowercased())"
        func resume(_ value: JSONValue) -> CommandMessage {
            CommandMessage(id: id, threadID: thread, body: .resume(value: nil, values: [interrupt: value], checkpointID: nil), actor: actor)
        }
        let text = line.trimmingCharacters(in: .whitespaces)
        // The first word, and what follows it ("r too long": "r" and "too long").
        let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
        let word = parts.first?.lowercased() ?? ""
        let rest = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
        if let request = review["value"].flatMap(ReviewRequest.init(json:)), request.actionRequests.count == 1 {
            let decision: ReviewDecision? =
                switch word {
                case "a", "approve", "y", "yes": .approve
                case "r", "reject", "n", "no": .reject(message: rest ?? "rejected in review")
                case "respond": rest.map { .respond(message: $0) }
                case "e", "edit": rest.flatMap { try? JSONValue(json: Data($0.utf8)) }.map { .edit(arguments: $0) }
                default: nil
                }
            // The worker checks the decision against the policy and says why if it refuses.
            if let decision { return .success(resume(ReviewResponse(decision).json)) }
        }
        if graph == "approval" {
            // "r too long" rejects with the reason "too long" as the comment.
            switch word {
            case "a", "approve", "y", "yes": return .success(resume(["approved": true, "comment": .string(rest ?? "approved in review")]))
            case "r", "reject", "n", "no": return .success(resume(["approved": false, "comment": .string(rest ?? "rejected in review")]))
            default: break
            }
            if text.hasPrefix("e ") || text.hasPrefix("edit ") {
                let draft = String(text.drop { $0 != " " }.dropFirst())
                return .success(CommandMessage(id: id, threadID: thread, body: .updateState(values: ["draft": .string(draft)], asNode: "draft", checkpointID: nil, continueRun: true), actor: actor))
            }
        }
        if graph == "subgraph-review" {
            // The question is asked inside the review subgraph; the answer goes to the parent
            // thread by id, which resumes the subgraph (a DraftVerdict).
            switch text.lowercased() {
            case "a", "approve", "y", "yes": return .success(resume(["approved": true]))
            case "r", "reject", "n", "no": return .success(resume(["approved": false]))
            default: break
            }
            if text.hasPrefix("e ") || text.hasPrefix("edit ") {
                return .success(resume(["approved": true, "draft": .string(String(text.drop { $0 != " " }.dropFirst()))]))
            }
        }
        switch JSONValue.parsing(Data(text.utf8)) {
        case .success(let value):
            return .success(resume(value))
        case .failure(let error) where text.first.map("{[\"".contains) == true:
            // Meant as JSON: say what is wrong with it.
            return .failure(DemoError("not understood: not valid JSON (\(error)); \(help(graph: graph))"))
        case .failure:
            return .failure(DemoError("not understood: \(help(graph: graph))"))
        }
    }
}

/// Reads review and event topics and shows them, answering reviews from the terminal. The
/// terminal side of `interlude dev` and `interlude review`; what it shows and sends is decided
/// by ``ReviewDeskState``, this type only does the I/O.
struct ReviewDesk {
    let environment: DeploymentEnvironment
    let logger: Logger
    /// Who answers (`--actor`): sent with every answer. Default: none.
    var actor: ReviewActor? = nil

    /// What the desk waits on: both come into one stream, so a question answered elsewhere
    /// leaves the screen while the prompt waits for a line.
    private enum Input: Sendable {
        case event(JSONValue)
        case line(String)
        case endOfInput
        case consumerEnded((any Error)?)
    }

    /// Runs an interactive review session until `expectedCompletions` runs completed (or
    /// stdin ends).
    func interactive(expectedCompletions: Int?) async throws {
        let producer = try KafkaProducer(configuration: environment.producerConfiguration(), logger: logger)
        let client = CommandClient(producer: producer, topics: environment.topics)
        var consumerConfig = environment.consumerConfiguration(groupID: "interlude.review.\(UUID().uuidString.lowercased())")
        consumerConfig.offsetReset = .earliest
        let consumer = try KafkaConsumer(topics: [environment.topics.reviews, environment.topics.events], configuration: consumerConfig, logger: logger)
        let console = Console()
        console.say("Waiting for interrupts (the first consumer-group join takes a few seconds)...")
        let (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await event in consumer.events {
                            guard case .message(let message) = event, let json = try? JSONValue(json: Data(message.value)) else { continue }
                            continuation.yield(.event(json))
                        }
                        continuation.yield(.consumerEnded(nil))
                    } catch {
                        continuation.yield(.consumerEnded(error))
                    }
                }
                group.addTask {
                    for await line in StdinLines.stream() { continuation.yield(.line(line)) }
                    continuation.yield(.endOfInput)
                }
                var desk = ReviewDeskState(expectedCompletions: expectedCompletions, keepsTypedAhead: !console.interactive, actor: actor)
                loop: for await input in inputs {
                    let outputs: [ReviewDeskState.Output]
                    switch input {
                    case .event(let json): outputs = desk.event(json)
                    case .line(let line): outputs = desk.line(line)
                    case .endOfInput:
                        console.say("")
                        console.say("(end of input: leaving the review desk; unanswered questions stay pending)")
                        break loop
                    case .consumerEnded(let error):
                        if let error { throw error }
                        break loop
                    }
                    for output in outputs {
                        switch output {
                        case .say(let line): console.say(line)
                        case .prompt(let text): console.prompt(text)
                        case .send(let command): try await client.send(command)
                        case .finish: break loop
                        }
                    }
                }
                await consumer.close()
                group.cancelAll()
            }
        } catch {
            await consumer.close()
            await producer.close()
            throw error
        }
        await producer.close()
    }
}
