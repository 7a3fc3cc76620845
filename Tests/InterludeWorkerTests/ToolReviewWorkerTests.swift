import Foundation
import Interlude
import InterludeExamples
import InterludeWorker
import Logging
import Testing

/// The tool-review example through the command processor: every decision type in Interlude's
/// and Agent Inbox's forms is applied, and every answer outside the policy is rejected
/// `invalid_value` with nothing applied.
@Suite("Tool-call review through the worker", .tags(.worker))
struct ToolReviewWorkerTests {
    let checkpointer = InMemoryCheckpointer()
    let topics = TopicNames()

    func processor() throws -> CommandProcessor {
        var registry = GraphRegistry()
        try registry.register(try ToolReviewExample.makeGraph(checkpointer: checkpointer))
        var configuration = CommandProcessor.Configuration()
        configuration.retryDelay = .zero
        return CommandProcessor(registry: registry, store: checkpointer, configuration: configuration, logger: Logger(label: "test"))
    }

    func run(_ thread: String, _ question: String) throws -> CommandMessage {
        let input: [String: JSONValue] = ["messages": try JSONValue(encoding: ToolReviewState(question: question).messages)]
        return CommandMessage(id: UUID().uuidString, threadID: thread, body: .run(graph: ToolReviewExample.name, input: input, config: nil, ifBusy: .reject))
    }

    func resume(_ thread: String, _ value: JSONValue) -> CommandMessage {
        CommandMessage(id: UUID().uuidString, threadID: thread, body: .resume(value: value, values: nil, checkpointID: nil))
    }

    func events(_ type: String, thread: String) async throws -> [JSONValue] {
        try await checkpointer.unpublishedOutbox(limit: 1000).map { try JSONValue(json: $0.payload) }
            .filter { $0["type"]?.stringValue == type && $0["thread_id"]?.stringValue == thread }
    }

    static let decisions: [(String, String, JSONValue, String)] = [
        ("approve", "weather in Lisbon", ["decisions": [["type": "approve"]]], "Here is what I found: Lisbon: 24°C, sunny"),
        ("edit", "weather in Lisbon", ["decisions": [["type": "edit", "args": ["city": "Oslo"]]]], "Here is what I found: Oslo: 6°C, snow showers"),
        ("reject", "weather in Lisbon", ["decisions": [["type": "reject", "message": "not today"]]], "Understood, I did not run the tool (rejected by the reviewer: not today)."),
        ("respond", "weather in Lisbon", ["decisions": [["type": "respond", "message": "Lisbon: 30°C"]]], "Here is what I found: Lisbon: 30°C"),
        ("inbox accept", "what is 6 * 7", [["type": "accept", "args": .null]], "Here is what I found: 6 * 7 = 42"),
        ("inbox edit", "what is 6 * 7", [["type": "edit", "args": ["action": "calculator", "args": ["a": 6, "op": "+", "b": 7]]]], "Here is what I found: 6 + 7 = 13"),
        ("inbox response", "weather in Paris", [["type": "response", "args": "Paris: fog"]], "Here is what I found: Paris: fog"),
        ("inbox ignore", "what is 6 * 7", [["type": "ignore", "args": .null]], "Understood, I did not run the tool (rejected by the reviewer: ignored by the reviewer)."),
    ]

    @Test("each decision, in Interlude's and Agent Inbox's forms, is applied and the run completes", arguments: decisions)
    func decision(name: String, question: String, answer: JSONValue, final: String) async throws {
        let processor = try processor()
        let thread = "t-\(name.replacingOccurrences(of: " ", with: "-"))"
        #expect(try await processor.process(try run(thread, question), topic: topics.runs) == .applied(.interrupted))
        let review = try #require(try await events("interrupt", thread: thread).first)
        let request = try #require(review["value"].flatMap(ReviewRequest.init(json:)), "the interrupt event carries a review request: \(review)")
        #expect(request.actionRequests.count == 1)
        #expect(try await processor.process(resume(thread, answer), topic: topics.resumes) == .applied(.completed))
        let completed = try #require(try await events("completed", thread: thread).first)
        let messages = try #require(completed["values"]?["messages"]?.arrayValue)
        #expect(messages.last?["content"]?.stringValue == final)
    }

    @Test("answers outside the policy are rejected invalid_value with the allowed set, and the review stays open")
    func refusals() async throws {
        let processor = try processor()
        let thread = "t-refused"
        _ = try await processor.process(try run(thread, "what is 6 * 7"), topic: topics.runs)
        let steps = try await events("step", thread: thread).count
        let commits = checkpointer.commitCount
        let refused: [(JSONValue, String)] = [
            (["decisions": [["type": "respond", "message": "42"]]], "is 'respond', which the policy does not allow; allowed: approve, edit, reject"),
            (["decisions": [["type": "approve"], ["type": "approve"]]], "the answer has 2 decisions"),
            (["decisions": [["type": "edit", "args": ["a": 6, "op": "%", "b": 7]]]], "$.op"),
            (["decisions": [["type": "perhaps"]]], "unknown decision type 'perhaps'"),
            ([["type": "response", "args": "42"]], "allowed: approve, edit, reject"),
        ]
        for (answer, _) in refused {
            #expect(try await processor.process(resume(thread, answer), topic: topics.resumes) == .rejected("invalid_value"), "\(answer)")
        }
        let messages = try await events("rejected", thread: thread).compactMap { $0["message"]?.stringValue }
        #expect(messages.count == refused.count)
        for ((_, expected), message) in zip(refused, messages) {
            #expect(message.contains(expected), "expected '\(expected)' in: \(message)")
        }
        #expect(try await events("step", thread: thread).count == steps, "no refused answer made a step")
        #expect(checkpointer.commitCount == commits, "no refused answer committed a graph step")
        #expect(try await processor.process(resume(thread, ["decisions": [["type": "approve"]]]), topic: topics.resumes) == .applied(.completed))
    }
}
