import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludeWorker
import InterludeTestSupport
import Testing

/// The tool-review example over Kafka and PostgreSQL with real worker processes: the review
/// event carries a review request, answers outside the policy are rejected `invalid_value`
/// with the allowed set, and an Agent Inbox `HumanResponse` is applied.
@Suite("Tool-call review end to end", .tags(.e2e), .serialized, .timeLimit(.minutes(10)))
struct ToolReviewEndToEndTests {
    @Test("out-of-policy decisions are rejected invalid_value and change nothing; an Agent Inbox edit is applied")
    func outOfPolicyThenInbox() async throws {
        try await withSystem { system in
            try system.startWorkers(1)
            let producer = try system.producer()
            let client = CommandClient(producer: producer, topics: system.topics)
            let watcher = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.reviews, system.topics.events])
            let thread = "tool-e2e"
            let input: [String: JSONValue] = ["messages": try JSONValue(encoding: ToolReviewState(question: "what is 6 * 7").messages)]
            try await client.send(CommandMessage(id: "run-tool", threadID: thread, body: .run(graph: ToolReviewExample.name, input: input, config: nil, ifBusy: .reject)))
            try await watcher.collect(until: { $0.contains { $0["type"] == "interrupt" && $0["thread_id"] == "tool-e2e" } })
            let review = try #require(watcher.all.first { $0["type"] == "interrupt" })
            let request = try #require(review["value"].flatMap(ReviewRequest.init(json:)), "not a review request: \(review)")
            #expect(request.actionRequests.map(\.name) == ["calculator"])
            #expect(request.config(for: "calculator")?.allowedDecisions == [.approve, .edit, .reject])
            let before = try #require(try await system.checkpointer.thread(thread))

            try await client.send(CommandMessage(id: "resume-respond", threadID: thread, body: .resume(value: ["decisions": [["type": "respond", "message": "42"]]], values: nil, checkpointID: nil)))
            try await client.send(CommandMessage(id: "resume-schema", threadID: thread, body: .resume(value: ["decisions": [["type": "edit", "args": ["a": 6, "op": "%", "b": 7]]]], values: nil, checkpointID: nil)))
            try await watcher.collect(until: { $0.filter { $0["type"] == "rejected" }.count >= 2 })
            var refusals: [String: JSONValue] = [:]
            for rejected in watcher.all where rejected["type"] == "rejected" { refusals[rejected["command_id"]?.stringValue ?? ""] = rejected }
            #expect(refusals["resume-respond"]?["reason"] == "invalid_value")
            #expect(refusals["resume-respond"]?["message"]?.stringValue?.contains("allowed: approve, edit, reject") == true, "\(refusals)")
            #expect(refusals["resume-schema"]?["reason"] == "invalid_value")
            #expect(refusals["resume-schema"]?["message"]?.stringValue?.contains("$.op") == true, "\(refusals)")
            let after = try #require(try await system.checkpointer.thread(thread))
            #expect(after.version == before.version, "a refused answer changed the thread")
            #expect(after.status == .interrupted)

            let inbox: JSONValue = [["type": "edit", "args": ["action": "calculator", "args": ["a": 6, "op": "*", "b": 8]]]]
            try await client.send(CommandMessage(id: "resume-inbox", threadID: thread, body: .resume(value: inbox, values: nil, checkpointID: nil)))
            try await watcher.collect(until: { $0.contains { $0["type"] == "completed" && $0["thread_id"] == "tool-e2e" } })
            let completed = try #require(watcher.all.first { $0["type"] == "completed" })
            #expect(completed["values"]?["executed"] == [#"calculator({"a":6,"b":8,"op":"*"})"#])
            #expect(completed["values"]?["messages"]?.arrayValue?.last?["content"] == "Here is what I found: 6 * 8 = 48")
            #expect(try await system.checkpointer.thread(thread)?.status == .completed)
            await producer.close()
            await watcher.consumer.close()
            _ = await system.stopWorkers()
        }
    }
}
