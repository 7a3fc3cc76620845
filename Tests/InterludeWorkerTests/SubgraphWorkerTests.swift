import Foundation
import Interlude
import InterludeExamples
import InterludeWorker
import Logging
import Testing

/// The subgraph example through the worker's command processing (no Kafka): the question
/// asked inside the subgraph is published as the parent thread's interrupt event, and a
/// resume naming its id finishes both graphs, on the one-command path and in a batch.
@Suite("CommandProcessor with a subgraph", .tags(.worker))
struct SubgraphWorkerTests {
    func processor(_ store: InMemoryCheckpointer) throws -> CommandProcessor {
        var registry = GraphRegistry()
        try registry.register(try SubgraphReviewExample.makeGraph(checkpointer: store))
        var configuration = CommandProcessor.Configuration()
        configuration.retryDelay = .zero
        return CommandProcessor(registry: registry, store: store, configuration: configuration, logger: Logger(label: "test"))
    }

    func run(_ thread: String) -> CommandMessage {
        CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: SubgraphReviewExample.name, input: ["topic": "tides"], config: nil, ifBusy: .reject))
    }

    func resume(_ thread: String, _ interruptID: String) -> CommandMessage {
        CommandMessage(id: "resume-\(thread)", threadID: thread, body: .resume(value: nil, values: [interruptID: ["approved": true]], checkpointID: nil))
    }

    func interruptIDs(_ store: InMemoryCheckpointer) async throws -> [String: String] {
        var ids: [String: String] = [:]
        for row in try await store.unpublishedOutbox(limit: 1000) {
            let event = try JSONValue(json: row.payload)
            if event["type"] == "interrupt", let thread = event["thread_id"]?.stringValue { ids[thread] = event["interrupt_id"]?.stringValue }
        }
        return ids
    }

    @Test("a subgraph's question is published for the parent thread, and a resume by its id completes the run")
    func oneByOne() async throws {
        let store = InMemoryCheckpointer()
        let processor = try processor(store)
        #expect(try await processor.process(run("s1"), topic: TopicNames().runs) == .applied(.interrupted))
        let id = try #require(try await interruptIDs(store)["s1"])
        #expect(try await processor.process(resume("s1", id), topic: TopicNames().resumes) == .applied(.completed))
        let state = try await SubgraphReviewExample.makeGraph(checkpointer: store).getState(thread: "s1")
        #expect(state?.values.published == true)
        #expect(state?.values.log == ["plan", "write", "review", "publish"])
    }

    @Test("the same in a batch: the subgraph's commits are applied with the parent's")
    func batched() async throws {
        let store = InMemoryCheckpointer()
        let processor = try processor(store)
        let threads = ["b1", "b2"]
        for outcome in await processor.processBatch(threads.map { .init(command: run($0), topic: TopicNames().runs) }) {
            guard case .processed(let processed) = outcome, processed.result == .applied(.interrupted) else {
                Issue.record("expected the run applied in the batch, got \(outcome)")
                continue
            }
        }
        let ids = try await interruptIDs(store)
        let resumes = try threads.map { CommandProcessor.BatchItem(command: resume($0, try #require(ids[$0])), topic: TopicNames().resumes) }
        for outcome in await processor.processBatch(resumes) {
            guard case .processed(let processed) = outcome, processed.result == .applied(.completed) else {
                Issue.record("expected the resume applied in the batch, got \(outcome)")
                continue
            }
        }
        for thread in threads {
            #expect(try await SubgraphReviewExample.makeGraph(checkpointer: store).getState(thread: thread)?.values.published == true)
        }
    }
}
