import Foundation
import Interlude
import InterludeWorker
import Logging
import Testing

/// Issue 9, behaviour 3 through the worker: a resume value sent while a thread waits at a
/// static breakpoint is not refused; it continues the run and answers the next question.
@Suite("CommandProcessor at a static breakpoint", .tags(.worker))
struct BreakpointResumeTests {
    @Test("a resume at a static breakpoint continues the run and answers the node's question")
    func resumeAtBreakpoint() async throws {
        let checkpointer = InMemoryCheckpointer()
        var graph = StateGraph<ApprovalState>()
        graph.addNode("draft") { state in .update(\.draft, "Dear \(state.draft)") }
        graph.addNode("review") { _ in
            let ok: Bool = try await interrupt(["question": "send it?"] as JSONValue)
            return .update(\.approved, ok)
        }
        graph.addEdge(START, "draft")
        graph.addEdge("draft", "review")
        var registry = GraphRegistry()
        try registry.register(try graph.compile(name: "approval-breakpoint", checkpointer: checkpointer, interruptBefore: ["review"]))
        var configuration = CommandProcessor.Configuration()
        configuration.retryDelay = .zero
        let processor = CommandProcessor(registry: registry, store: checkpointer, configuration: configuration, logger: Logger(label: "test"))

        let run = CommandMessage(id: "run-1", threadID: "b1", body: .run(graph: "approval-breakpoint", input: ["draft": "Ann"], config: nil, ifBusy: .reject))
        #expect(try await processor.process(run, topic: TopicNames().runs) == .applied(.interrupted))
        #expect(try await graph.compile(name: "approval-breakpoint", checkpointer: checkpointer).getState(thread: "b1")?.next == ["review"])
        let resume = CommandMessage(id: "resume-1", threadID: "b1", body: .resume(value: true, values: nil, checkpointID: nil))
        #expect(try await processor.process(resume, topic: TopicNames().resumes) == .applied(.completed))
        let state = try await graph.compile(name: "approval-breakpoint", checkpointer: checkpointer).getState(thread: "b1")
        #expect(state?.values.approved == true)
    }
}
