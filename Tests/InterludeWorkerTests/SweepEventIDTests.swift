import Foundation
@testable import Interlude
import InterludeExamples
@testable import InterludeWorker
import Logging
import Testing

/// A question with a reminder and no default: the sweep reminds, then the run fails (timeout).
struct ReminderState: GraphState {
    var answer = ""
    static let channels: [Channel<ReminderState>] = [.value("answer", \.answer)]
}

func makeReminderThenFailGraph(checkpointer: any Checkpointer) throws -> CompiledGraph<ReminderState> {
    var graph = StateGraph<ReminderState>()
    graph.addNode("ask") { _ in
        let answer: String = try await interrupt("Ship it?", timeout: .seconds(10), onTimeout: .fail, escalation: Escalation(remindAfter: .seconds(2)))
        return .update(\.answer, answer)
    }
    graph.addEdge(START, "ask")
    graph.addEdge("ask", END)
    return try graph.compile(name: "remind-then-fail", checkpointer: checkpointer)
}

/// The events the deadline sweep commits (escalation steps, defaults, timeouts) each keep an
/// id of their own: the outbox keeps one row per id, so an id used twice is an event lost.
@Suite("Sweep event ids", .tags(.worker), .timeLimit(.minutes(1)))
struct SweepEventIDTests {
    /// A worker whose deadline leases are short, so successive sweeps a few seconds apart
    /// (in the `now` they are given) may claim the same interrupt again.
    func worker<State: GraphState>(_ store: any WorkerStore, _ graph: CompiledGraph<State>) throws -> (Worker, CommandProcessor) {
        var registry = GraphRegistry()
        try registry.register(graph)
        var configuration = Worker.Configuration()
        configuration.deadlineLease = .seconds(1)
        let worker = Worker(configuration: configuration, registry: registry, store: store, logger: Logger(label: "test"))
        return (worker, CommandProcessor(registry: registry, store: store, logger: Logger(label: "test")))
    }

    /// The outbox rows committed since `seen` (by id), as JSON; `seen` grows.
    func newEvents(_ store: any WorkerStore, seen: inout Set<String>) async throws -> [JSONValue] {
        let rows = try await store.unpublishedOutbox(limit: 1_000).filter { !seen.contains($0.id) }
        seen.formUnion(rows.map(\.id))
        return try rows.map { try JSONValue(json: $0.payload) }
    }

    /// Every outbox row id must be unique (the in-memory store keeps duplicates; PostgreSQL
    /// drops them, and then the count of events per sweep shows the loss).
    func expectUniqueIDs(_ store: any WorkerStore) async throws {
        let ids = try await store.unpublishedOutbox(limit: 1_000).map(\.id)
        let repeated = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(repeated.isEmpty, "outbox ids used more than once: \(repeated)")
    }

    @Test("remind, escalate and the default each publish a step event with an id of its own", arguments: StoreKind.allCases)
    func escalationChain(kind: StoreKind) async throws {
        let store = try await kind.make()
        let (worker, processor) = try worker(store, try EscalatingApprovalExample.makeGraph(checkpointer: store))
        let input: [String: JSONValue] = ["recipient": "ana@example.com", "subject": "Q3"]
        let run = CommandMessage(id: "run-1", threadID: "esc-1", body: .run(graph: EscalatingApprovalExample.name, input: input, config: nil, ifBusy: .reject))
        #expect(try await processor.process(run, topic: TopicNames().runs) == .applied(.interrupted))
        let asked = try #require(try await store.interrupts(thread: "esc-1").first?.createdAt)
        var seen = Set<String>()
        _ = try await newEvents(store, seen: &seen)

        var stepIDs: [String] = []
        for (stage, offset) in [("remind", 2.5), ("escalate", 6.5), ("default", 20.5)] {
            #expect(try await worker.fireDeadlines(relay: nil, now: asked.addingTimeInterval(offset)) == 1, "the \(stage) sweep fired nothing")
            let events = try await newEvents(store, seen: &seen)
            let steps = events.filter { $0["type"] == "step" }
            #expect(!steps.isEmpty, "the \(stage) sweep committed no new step event: its id was already taken (events: \(events.map { $0["id"]?.stringValue ?? "?" }))")
            stepIDs += steps.compactMap { $0["id"]?.stringValue }
            if stage != "default" {
                #expect(events.contains { $0["type"] == "interrupt" && $0["escalation"]?.stringValue == stage }, "the \(stage) sweep published no interrupt event")
            }
        }
        #expect(Set(stepIDs).count == stepIDs.count, "step event ids repeat: \(stepIDs)")
        #expect(try await store.thread("esc-1")?.status == .completed)
        try await expectUniqueIDs(store)
    }

    @Test("a reminder and the timeout failure that follows on the same checkpoint publish distinct step and failed events", arguments: StoreKind.allCases)
    func reminderThenFailure(kind: StoreKind) async throws {
        let store = try await kind.make()
        let (worker, processor) = try worker(store, try makeReminderThenFailGraph(checkpointer: store))
        let run = CommandMessage(id: "run-2", threadID: "fail-1", body: .run(graph: "remind-then-fail", input: [:], config: nil, ifBusy: .reject))
        #expect(try await processor.process(run, topic: TopicNames().runs) == .applied(.interrupted))
        let asked = try #require(try await store.interrupts(thread: "fail-1").first?.createdAt)
        var seen = Set<String>()
        _ = try await newEvents(store, seen: &seen)

        #expect(try await worker.fireDeadlines(relay: nil, now: asked.addingTimeInterval(2.5)) == 1)
        let reminded = try await newEvents(store, seen: &seen)
        #expect(reminded.filter { $0["type"] == "step" }.count == 1, "the reminder's step event: \(reminded)")

        #expect(try await worker.fireDeadlines(relay: nil, now: asked.addingTimeInterval(10.5)) == 1)
        let failed = try await newEvents(store, seen: &seen)
        #expect(failed.filter { $0["type"] == "step" }.count == 1, "the timeout's step event was lost: \(failed.map { $0["id"]?.stringValue ?? "?" })")
        #expect(failed.contains { $0["type"] == "failed" }, "no failed event after the timeout")
        #expect(try await store.thread("fail-1")?.status == .failed)
        try await expectUniqueIDs(store)
    }

    @Test("a sweep commit's key depends only on the commit: computed again it is the same, for another change or a later commit it differs")
    func deterministicKeys() throws {
        let checkpoint = CheckpointID(high: 1, low: 2)
        var record = InterruptRecord(
            id: "i-1", threadID: "t", checkpointID: checkpoint, taskID: "task", node: "ask", value: "q", status: .pending,
            deadline: Date(timeIntervalSince1970: 1_000), onTimeout: .fail, createdAt: Date(timeIntervalSince1970: 0))
        record.escalationStep = "remind"
        func context(_ record: InterruptRecord) -> CommitContext {
            CommitContext(
                threadID: "t", head: checkpoint, step: 1, status: .interrupted, newInterrupts: record.status == .pending ? [record] : [],
                interruptChanges: [record], isFinal: true, isFirst: true, values: nil, failure: nil)
        }
        let reminder = SweepEventKeys(action: "deadline").next(context(record))
        #expect(reminder == SweepEventKeys(action: "deadline").next(context(record)), "a re-fired reminder must get the same key")
        #expect(reminder.hasPrefix("remind-"))

        var escalated = record
        escalated.escalationStep = "escalate"
        escalated.deadline = Date(timeIntervalSince1970: 2_000)
        let escalation = SweepEventKeys(action: "deadline").next(context(escalated))
        #expect(escalation.hasPrefix("escalate-") && escalation != reminder)

        var expired = record
        expired.escalationStep = nil
        expired.status = .expired
        let timeout = SweepEventKeys(action: "deadline").next(context(expired))
        #expect(timeout.hasPrefix("deadline-") && timeout != reminder && timeout != escalation)
        #expect(SweepEventKeys(action: "parked").next(context(expired)) != timeout)

        let keys = SweepEventKeys(action: "deadline")
        #expect(keys.next(context(expired)) != keys.next(context(expired)), "two commits of one action get different keys")

        let event = EventMessages.step(threadID: "t", checkpointID: checkpoint, step: 1, status: .interrupted, commandID: nil, sweepKey: reminder, at: Date())
        #expect(event["id"]?.stringValue == "step-\(checkpoint)-\(reminder)")
        #expect(event["command_id"] == nil, "a sweep commit has no command")
    }

    @Test("a sweep's step event and a step that closes questions validate against the step schema, and the failed event against its own")
    func schemas() throws {
        let checkpoint = CheckpointID.next()
        var answered = InterruptRecord(
            id: "i-1", threadID: "t", checkpointID: checkpoint, taskID: "task", node: "ask", value: "q", status: .resolved,
            deadline: nil, onTimeout: nil, createdAt: Date(), resolvedAt: Date(), resolvedBy: "bo")
        let expired = InterruptRecord(
            id: "i-2", threadID: "t", checkpointID: checkpoint, taskID: "task", node: "ask", value: "q", status: .expired,
            deadline: Date(), onTimeout: .fail, createdAt: Date(), resolvedAt: Date(), resolvedBy: "timeout")
        let pending = InterruptRecord(
            id: "i-3", threadID: "t", checkpointID: checkpoint, taskID: "task", node: "ask", value: "q", status: .pending,
            deadline: nil, onTimeout: nil, createdAt: Date())
        let step = EventMessages.step(
            threadID: "t", checkpointID: checkpoint, step: 2, status: .failed, commandID: nil, sweepKey: "deadline-0123456789abcdef",
            resolved: [answered, expired, pending], at: Date())
        #expect(try MessageContractTests.validator("step").errors(step).isEmpty)
        let closed = step["resolved_interrupts"]?.arrayValue ?? []
        #expect(closed.map { $0["interrupt_id"]?.stringValue } == ["i-1", "i-2"], "a pending record is not closed: \(closed)")
        #expect(closed.first?["resolved_by"] == "bo" && closed.last?["status"] == "expired")
        answered.resolvedBy = nil
        let bare = EventMessages.step(threadID: "t", checkpointID: checkpoint, step: 2, status: .ready, commandID: "c", resolved: [answered], at: Date())
        #expect(try MessageContractTests.validator("step").errors(bare).isEmpty)
        #expect(EventMessages.step(threadID: "t", checkpointID: checkpoint, step: 2, status: .ready, commandID: "c", at: Date())["resolved_interrupts"] == nil)
        let failed = EventMessages.failed(threadID: "t", checkpointID: checkpoint, reason: "timeout", commandID: nil, sweepKey: "deadline-0123456789abcdef", at: Date())
        #expect(failed["id"]?.stringValue == "failed-\(checkpoint)-deadline-0123456789abcdef")
        #expect(try MessageContractTests.validator("failed").errors(failed).isEmpty)
    }
}
