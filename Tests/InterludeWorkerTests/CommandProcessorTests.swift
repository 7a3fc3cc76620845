import Foundation
import Interlude
import InterludeWorker
import Logging
import Synchronization
import Testing

struct ApprovalState: GraphState {
    var draft = ""
    var approved = false
    var sent = false
    static let channels: [Channel<ApprovalState>] = [.value("draft", \.draft), .value("approved", \.approved), .value("sent", \.sent)]
}

/// A small approval graph: draft, ask, send (only if approved).
func makeApprovalGraph(checkpointer: any Checkpointer, failures: FailureBudget? = nil) throws -> CompiledGraph<ApprovalState> {
    var graph = StateGraph<ApprovalState>()
    graph.addNode("draft") { state in .update(\.draft, "Dear \(state.draft)") }
    graph.addNode("review", destinations: ["send"]) { _ in
        let ok: Bool = try await interrupt(["question": "send it?"] as JSONValue)
        return ok ? .goto("send", update: .set(\.approved, true)) : .goto(END)
    }
    graph.addNode("send") { _ in
        if let failures, failures.take() {
            throw SendFailure()
        }
        return .update(\.sent, true)
    }
    graph.addEdge(START, "draft")
    graph.addEdge("draft", "review")
    return try graph.compile(name: "approval", checkpointer: checkpointer)
}

struct SendFailure: Error {}

/// How many more times the `send` node fails.
final class FailureBudget: Sendable {
    private let remaining: Mutex<Int>
    init(_ count: Int) { remaining = Mutex(count) }
    func take() -> Bool { remaining.withLock { count in defer { count -= 1 }; return count > 0 } }
}

@Suite("CommandProcessor", .tags(.worker))
struct CommandProcessorTests {
    let checkpointer = InMemoryCheckpointer()
    let topics = TopicNames()

    func processor(failures: FailureBudget? = nil) throws -> CommandProcessor {
        var registry = GraphRegistry()
        try registry.register(try makeApprovalGraph(checkpointer: checkpointer, failures: failures))
        var configuration = CommandProcessor.Configuration()
        configuration.retryDelay = .zero
        return CommandProcessor(registry: registry, store: checkpointer, configuration: configuration, logger: Logger(label: "test"))
    }

    func run(_ thread: String, id: String = UUID().uuidString) -> CommandMessage {
        CommandMessage(id: id, threadID: thread, body: .run(graph: "approval", input: ["draft": "Ann"], config: nil, ifBusy: .reject))
    }

    func resume(_ thread: String, _ value: JSONValue?, values: [String: JSONValue]? = nil, id: String = UUID().uuidString) -> CommandMessage {
        CommandMessage(id: id, threadID: thread, body: .resume(value: value, values: values, checkpointID: nil))
    }

    func outbox() async throws -> [JSONValue] {
        try await checkpointer.unpublishedOutbox(limit: 1000).map { try JSONValue(json: $0.payload) }
    }

    @Test("a run pauses at the review and publishes one review event with the interrupt")
    func runPublishesReview() async throws {
        let processor = try processor()
        let result = try await processor.process(run("t1"), topic: topics.runs)
        #expect(result == .applied(.interrupted))
        let reviews = try await outbox().filter { $0["type"] == "interrupt" }
        #expect(reviews.count == 1)
        #expect(reviews.first?["value"]?["question"] == "send it?")
        #expect(reviews.first?["node"] == "review")
        #expect(checkpointer.commitCount == 1)
    }

    @Test("a redelivered command is not applied twice")
    func duplicateRun() async throws {
        let processor = try processor()
        let command = run("t1", id: "cmd-1")
        _ = try await processor.process(command, topic: topics.runs)
        let commits = checkpointer.commitCount
        let events = try await outbox().count
        #expect(try await processor.process(command, topic: topics.runs) == .duplicate)
        #expect(checkpointer.commitCount == commits)
        #expect(try await outbox().count == events)
    }

    @Test("a resume finishes the run, and later resumes are rejected with reasons")
    func resumeAndRejections() async throws {
        let processor = try processor()
        _ = try await processor.process(run("t1"), topic: topics.runs)
        let interruptID = try #require(try await checkpointer.interrupts(thread: "t1").first?.id)
        #expect(try await processor.process(resume("t1", nil, values: ["nope": true]), topic: topics.resumes) == .rejected("unknown_interrupt"))
        let first = resume("t1", nil, values: [interruptID: true], id: "r-1")
        #expect(try await processor.process(first, topic: topics.resumes) == .applied(.completed))
        #expect(try await processor.process(first, topic: topics.resumes) == .duplicate)
        #expect(try await processor.process(resume("t1", nil, values: [interruptID: false]), topic: topics.resumes) == .rejected("already_resolved"))
        #expect(try await processor.process(resume("t1", true), topic: topics.resumes) == .rejected("no_pending_interrupt"))
        #expect(try await processor.process(resume("nobody", true), topic: topics.resumes) == .rejected("unknown_thread"))
        let events = try await outbox()
        #expect(events.filter { $0["type"] == "completed" }.count == 1)
        #expect(events.first { $0["type"] == "completed" }?["values"]?["sent"] == true)
        #expect(events.filter { $0["type"] == "rejected" }.map { $0["reason"]?.stringValue ?? "" }.sorted()
            == ["already_resolved", "no_pending_interrupt", "unknown_interrupt", "unknown_thread"])
    }

    @Test("an answer of the wrong type is rejected as invalid_value and the question stays open")
    func invalidValue() async throws {
        let processor = try processor()
        _ = try await processor.process(run("t1"), topic: topics.runs)
        #expect(try await processor.process(resume("t1", "yes please"), topic: topics.resumes) == .rejected("invalid_value"))
        #expect(try await processor.process(resume("t1", true), topic: topics.resumes) == .applied(.completed))
    }

    @Test("a second run on a paused thread is refused as thread_busy unless it asks to restart")
    func busy() async throws {
        let processor = try processor()
        _ = try await processor.process(run("t1"), topic: topics.runs)
        #expect(try await processor.process(run("t1"), topic: topics.runs) == .rejected("thread_busy"))
        let restart = CommandMessage(id: "r", threadID: "t1", body: .run(graph: "approval", input: ["draft": "Bo"], config: nil, ifBusy: .restart))
        #expect(try await processor.process(restart, topic: topics.runs) == .applied(.interrupted))
        #expect(try await checkpointer.interrupts(thread: "t1").map(\.status) == [.cancelled, .pending])
    }

    @Test("commands on the wrong topic or for an unknown graph are dead letters")
    func deadLetters() async throws {
        let processor = try processor()
        if case .deadLetter(let reason) = try await processor.process(run("t1"), topic: topics.resumes) {
            #expect(reason.code == "wrong_topic")
        } else {
            Issue.record("a run on the resumes topic was not dead-lettered")
        }
        let unknown = CommandMessage(id: "u", threadID: "t2", body: .run(graph: "nope", input: [:], config: nil, ifBusy: .reject))
        if case .deadLetter(let reason) = try await processor.process(unknown, topic: topics.runs) {
            #expect(reason.code == "unknown_graph")
            #expect(reason.detail.contains("approval"))
        } else {
            Issue.record("a run of an unknown graph was not dead-lettered")
        }
    }

    @Test("a run whose breakpoints name a node the graph does not have is rejected as unknown_node, naming the nodes, before the thread exists")
    func unknownBreakpoint() async throws {
        let processor = try processor()
        let command = CommandMessage(id: "bp", threadID: "t1", body: .run(graph: "approval", input: ["draft": "Ann"], config: CommandConfig(interruptBefore: ["reveiw"]), ifBusy: .reject))
        #expect(try await processor.process(command, topic: topics.runs) == .rejected("unknown_node"))
        let rejected = try await outbox().first { $0["type"] == "rejected" }
        #expect(rejected?["message"]?.stringValue?.contains("interruptBefore names 'reveiw', which graph 'approval' does not have; its nodes:") == true)
        #expect(try await checkpointer.thread("t1") == nil)
    }

    @Test("a node that keeps failing is retried, then parked with a failed event")
    func parked() async throws {
        let processor = try processor(failures: FailureBudget(10))
        _ = try await processor.process(run("t1"), topic: topics.runs)
        let result = try await processor.process(resume("t1", true), topic: topics.resumes)
        guard case .parked(let reason) = result else {
            Issue.record("expected the run to be parked, got \(result)")
            return
        }
        #expect(reason.contains("3 attempts"))
        #expect(try await checkpointer.thread("t1")?.status == .failed)
        #expect(try await outbox().contains { $0["type"] == "failed" })
    }

    @Test("a node that fails once is retried and the run completes")
    func retried() async throws {
        let processor = try processor(failures: FailureBudget(1))
        _ = try await processor.process(run("t1"), topic: topics.runs)
        #expect(try await processor.process(resume("t1", true), topic: topics.resumes) == .applied(.completed))
    }

    @Test("cancel ends a paused thread and a later resume is refused")
    func cancel() async throws {
        let processor = try processor()
        _ = try await processor.process(run("t1"), topic: topics.runs)
        let cancel = CommandMessage(id: "c", threadID: "t1", body: .cancel(reason: "user left"))
        #expect(try await processor.process(cancel, topic: topics.runs) == .applied(.failed))
        #expect(try await processor.process(resume("t1", true), topic: topics.resumes) == .rejected("already_resolved"))
        // The cancel commits no new checkpoint: its step event must still have an id of its own,
        // or the outbox (unique by id) drops it and readers de-duplicating by id lose it.
        let events = try await outbox()
        let ids = events.compactMap { $0["id"]?.stringValue }
        #expect(Set(ids).count == ids.count, "event ids repeat: \(ids)")
        #expect(events.contains { $0["type"] == "step" && $0["command_id"] == "c" }, "no step event for the cancel in \(ids)")
    }
}

extension Tag {
    @Tag static var worker: Self
}

@Suite("GraphRegistry", .tags(.worker))
struct GraphRegistryTests {
    @Test("registering two graphs under one name is an error that names the graph")
    func duplicateName() throws {
        var registry = GraphRegistry()
        try registry.register(try makeApprovalGraph(checkpointer: InMemoryCheckpointer()))
        let error = #expect(throws: WorkerError.self) { try registry.register(try makeApprovalGraph(checkpointer: InMemoryCheckpointer())) }
        #expect(error?.code == .duplicateGraph)
        #expect(error?.message.contains("'approval'") == true)
        #expect(registry.names == ["approval"])
    }
}
