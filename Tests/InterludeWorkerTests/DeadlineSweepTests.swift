import Foundation
import Interlude
import InterludeExamples
import InterludeWorker
import Logging
import Testing

@Suite("Deadline sweep", .tags(.worker))
struct DeadlineSweepTests {
    @Test("the sweep answers an expired human wait with its default, publishes the events, and a late resume is refused")
    func sweepAppliesDefault() async throws {
        let checkpointer = InMemoryCheckpointer()
        var registry = GraphRegistry()
        try registry.register(try TimeoutDefaultExample.makeGraph(checkpointer: checkpointer))
        let worker = Worker(configuration: Worker.Configuration(), registry: registry, store: checkpointer, logger: Logger(label: "test"))
        let processor = CommandProcessor(registry: registry, store: checkpointer, logger: Logger(label: "test"))
        let run = CommandMessage(id: "run", threadID: "m1", body: .run(graph: TimeoutDefaultExample.name, input: ["plan": "restart the database"], config: nil, ifBusy: .reject))
        #expect(try await processor.process(run, topic: TopicNames().runs) == .applied(.interrupted))
        let deadline = try #require(try await checkpointer.interrupts(thread: "m1").first?.deadline)

        // Nothing is due before the deadline.
        try await worker.fireDeadlines(relay: nil, now: deadline.addingTimeInterval(-1))
        #expect(worker.stats.expired == 0)
        #expect(try await checkpointer.thread("m1")?.status == .interrupted)

        try await worker.fireDeadlines(relay: nil, now: deadline.addingTimeInterval(1))
        #expect(worker.stats.expired == 1)
        #expect(try await checkpointer.thread("m1")?.status == .completed)
        #expect(try await checkpointer.interrupts(thread: "m1").map(\.status) == [.expired])
        let events = try await checkpointer.unpublishedOutbox(limit: 100).map { try JSONValue(json: $0.payload) }
        #expect(events.contains { $0["type"] == "completed" })

        // Sweeping again finds nothing; a resume that comes late is refused.
        try await worker.fireDeadlines(relay: nil, now: deadline.addingTimeInterval(2))
        #expect(worker.stats.expired == 1)
        let late = CommandMessage(id: "late", threadID: "m1", body: .resume(value: ["approved": true], values: nil, checkpointID: nil))
        #expect(try await processor.process(late, topic: TopicNames().resumes) == .rejected("no_pending_interrupt"))
    }
}
