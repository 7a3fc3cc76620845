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
        case "approval": "a = approve, r = reject, e <text> = edit the draft and ask again, or a JSON answer"
        case "subgraph-review": "a = approve, r = reject, e <text> = publish this text instead, or a JSON answer"
        default: "type the answer as JSON (e.g. true, \"text\", {\"field\": 1})"
        }
    }

    /// The command a reviewer's line means for this review, or an explanation of what to type.
    static func command(for line: String, review: JSONValue) -> Result<CommandMessage, DemoError> {
        let thread = review["thread_id"]?.stringValue ?? ""
        let interrupt = review["interrupt_id"]?.stringValue ?? ""
        let graph = review["graph"]?.stringValue ?? ""
        let id = "review-\(UUID().uuidString.lowercased())"
        func resume(_ value: JSONValue) -> CommandMessage {
            CommandMessage(id: id, threadID: thread, body: .resume(value: nil, values: [interrupt: value], checkpointID: nil))
        }
        let text = line.trimmingCharacters(in: .whitespaces)
        if let request = review["value"].flatMap(ReviewRequest.init(json:)), request.actionRequests.count == 1 {
            let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
            let rest = parts.count > 1 ? parts[1] : nil
            let decision: ReviewDecision? =
                switch parts.first?.lowercased() ?? "" {
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
            switch text.lowercased() {
            case "a", "approve", "y", "yes": return .success(resume(["approved": true, "comment": "approved in review"]))
            case "r", "reject", "n", "no": return .success(resume(["approved": false, "comment": "rejected in review"]))
            default: break
            }
            if text.hasPrefix("e ") || text.hasPrefix("edit ") {
                let draft = String(text.drop { $0 != " " }.dropFirst())
                return .success(CommandMessage(id: id, threadID: thread, body: .updateState(values: ["draft": .string(draft)], asNode: "draft", checkpointID: nil, continueRun: true)))
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
        guard let value = try? JSONValue(json: Data(text.utf8)) else {
            return .failure(DemoError("not understood: \(help(graph: graph))"))
        }
        return .success(resume(value))
    }
}

/// Reads review and event topics and shows them, answering reviews from the terminal or
/// automatically. The terminal side of `interlude dev` and `interlude review`.
struct ReviewDesk {
    let environment: DeploymentEnvironment
    let logger: Logger

    /// Runs an interactive review session until `expectedCompletions` runs completed (or
    /// stdin ends).
    func interactive(expectedCompletions: Int?) async throws {
        let producer = try KafkaProducer(configuration: environment.producerConfiguration(), logger: logger)
        let client = CommandClient(producer: producer, topics: environment.topics)
        var consumerConfig = environment.consumerConfiguration(groupID: "interlude.review.\(UUID().uuidString.lowercased())")
        consumerConfig.offsetReset = .earliest
        let consumer = try KafkaConsumer(topics: [environment.topics.reviews, environment.topics.events], configuration: consumerConfig, logger: logger)
        let console = Console()
        var lines = StdinLines.stream().makeAsyncIterator()
        var completed = Set<String>()
        console.say("Waiting for interrupts (the first consumer-group join takes a few seconds)...")
        // Reviews answered from here, by the resume's command id: a refused answer asks again.
        var sent: [String: JSONValue] = [:]
        for try await event in consumer.events {
            guard case .message(let message) = event, let json = try? JSONValue(json: Data(message.value)) else { continue }
            var review: JSONValue?
            switch json["type"]?.stringValue {
            case "interrupt":
                review = json
            case "rejected":
                console.say("-- thread \(json["thread_id"]?.stringValue ?? "?"): command refused (\(json["reason"]?.stringValue ?? "?")): \(json["message"]?.stringValue ?? "")")
                if json["reason"] == "invalid_value", let id = json["command_id"]?.stringValue, let again = sent.removeValue(forKey: id) {
                    console.say("   the question is still open; answer it again")
                    review = again
                }
            case "completed":
                let thread = json["thread_id"]?.stringValue ?? "?"
                completed.insert(thread)
                console.say("-- thread \(thread) completed: \(summary(json["values"]))")
            case "failed":
                console.say("-- thread \(json["thread_id"]?.stringValue ?? "?") failed: \(json["reason"]?.stringValue ?? "?")")
            default:
                break
            }
            if let json = review {
                console.say("")
                console.say("== thread \(json["thread_id"]?.stringValue ?? "?") asks (\(json["graph"]?.stringValue ?? "?") / node \(json["node"]?.stringValue ?? "?")):")
                console.say(pretty(json["value"] ?? .null).split(separator: "\n").map { "   " + $0 }.joined(separator: "\n"))
                if let namespace = json["namespace"]?.stringValue { console.say("   (asked inside the subgraph \(namespace))") }
                if let deadline = json["deadline"]?.stringValue { console.say("   (answer before \(deadline))") }
                while true {
                    console.say("   \(AnswerPresets.help(graph: json["graph"]?.stringValue ?? "", value: json["value"]))")
                    console.prompt("   > ")
                    guard let line = await lines.next() else {
                        console.say("(end of input: leaving the review desk; unanswered questions stay pending)")
                        await consumer.close()
                        await producer.close()
                        return
                    }
                    switch AnswerPresets.command(for: line, review: json) {
                    case .success(let command):
                        try await client.send(command)
                        sent[command.id] = json
                        console.say("   sent \(command.type) \(command.id)")
                    case .failure(let explanation):
                        console.say("   \(explanation)")
                        continue
                    }
                    break
                }
            }
            if let expectedCompletions, completed.count >= expectedCompletions {
                console.say("")
                console.say("All \(expectedCompletions) runs completed.")
                break
            }
        }
        await consumer.close()
        await producer.close()
    }

    private func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? value.description
    }

    private func summary(_ values: JSONValue?) -> String {
        guard let object = values?.objectValue else { return "" }
        return object.keys.sorted().filter { $0 != "log" && $0 != "draft" }.map { "\($0)=\(object[$0]!)" }.joined(separator: ", ")
    }
}
