import Foundation
import Interlude
import InterludePostgres
import InterludeWorker
import Logging
import Testing

/// The stores a worker runs on: every lifecycle test runs on both.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, postgres

    var testDescription: String { rawValue }

    /// A fresh store: for PostgreSQL, a new schema on the server the test set-up started.
    func make() async throws -> any WorkerStore {
        switch self {
        case .memory:
            return InMemoryCheckpointer()
        case .postgres:
            guard let url = ProcessInfo.processInfo.environment["INTERLUDE_TEST_DATABASE_URL"], !url.isEmpty else {
                throw StoreUnavailable()
            }
            let store = try PostgresCheckpointer(configuration: .init(url: url, schema: "worker_\(UInt32.random(in: 0...UInt32.max))", poolSize: 2), logger: Logger(label: "test"))
            try await store.migrate()
            return store
        }
    }
}

struct StoreUnavailable: Error, CustomStringConvertible {
    var description: String { "INTERLUDE_TEST_DATABASE_URL is not set: run through `make test` or `scripts/with-test-postgres.sh swift test --disable-xctest`" }
}

struct LoopState: GraphState {
    var n = 0
    static let channels: [Channel<LoopState>] = [.value("n", \.n)]
}

/// A graph that never ends: `loop` goes back to itself.
func makeLoopGraph() throws -> CompiledGraph<LoopState> {
    var graph = StateGraph<LoopState>()
    graph.addNode("loop") { state in .update(\.n, state.n + 1) }
    graph.addEdge(START, "loop")
    graph.addEdge("loop", "loop")
    return try graph.compile(name: "loop")
}

/// Cancels the task that reaches `point`: the command stops there as if the worker had died.
func crash(at point: WorkerPoint) -> WorkerHooks {
    WorkerHooks { reached in
        if reached == point { withUnsafeCurrentTask { $0?.cancel() } }
    }
}

@Suite("Command lifecycle", .tags(.worker), .timeLimit(.minutes(2)))
struct CommandLifecycleTests {
    let topics = TopicNames()

    func processor(_ store: any WorkerStore, failures: FailureBudget? = nil, hooks: WorkerHooks = WorkerHooks(), durability: Durability = .exit) throws -> CommandProcessor {
        var registry = GraphRegistry()
        try registry.register(try makeApprovalGraph(checkpointer: InMemoryCheckpointer(), failures: failures))
        try registry.register(try makeLoopGraph())
        var configuration = CommandProcessor.Configuration()
        configuration.retryDelay = .zero
        configuration.hooks = hooks
        configuration.durability = durability
        return CommandProcessor(registry: registry, store: store, configuration: configuration, logger: Logger(label: "test"))
    }

    func events(_ store: any WorkerStore) async throws -> [JSONValue] {
        try await store.unpublishedOutbox(limit: 10_000).map { try JSONValue(json: $0.payload) }
    }

    func run(_ thread: String, graph: String = "approval", id: String) -> CommandMessage {
        CommandMessage(id: id, threadID: thread, body: .run(graph: graph, input: graph == "approval" ? ["draft": "Ann"] : [:], config: nil, ifBusy: .reject))
    }

    func approve(_ thread: String, id: String) -> CommandMessage {
        CommandMessage(id: id, threadID: thread, body: .resume(value: true, values: nil, checkpointID: nil))
    }

    @Test("a run past its recursion limit is rejected once, with its rejected event, and a redelivery changes nothing", arguments: StoreKind.allCases)
    func recursionLimit(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let processor = try processor(store)
        let command = CommandMessage(id: "loop-1", threadID: "t1", body: .run(graph: "loop", input: [:], config: CommandConfig(recursionLimit: 5), ifBusy: .reject))
        #expect(try await processor.process(command, topic: topics.runs) == .rejected("recursion_limit"))
        #expect(try await store.command("loop-1")?.status == .rejected)
        #expect(try await processor.process(command, topic: topics.runs) == .duplicate)
        let rejected = try await events(store).filter { $0["type"] == "rejected" }
        #expect(rejected.count == 1, "one rejected event, got \(rejected)")
        #expect(rejected.first?["reason"] == "recursion_limit")
    }

    @Test("input that does not fit the state is rejected as invalid_input, with its event", arguments: StoreKind.allCases)
    func invalidInput(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let processor = try processor(store)
        let command = CommandMessage(id: "bad-1", threadID: "t1", body: .run(graph: "approval", input: ["draft": 42], config: nil, ifBusy: .reject))
        #expect(try await processor.process(command, topic: topics.runs) == .rejected("invalid_input"))
        _ = try await processor.process(run("t2", id: "run-2"), topic: topics.runs)
        let edit = CommandMessage(id: "bad-2", threadID: "t2", body: .updateState(values: ["approved": "not a bool"], asNode: "review", checkpointID: nil, continueRun: true))
        #expect(try await processor.process(edit, topic: topics.runs) == .rejected("invalid_input"))
        #expect(try await events(store).filter { $0["type"] == "rejected" }.compactMap { $0["reason"]?.stringValue } == ["invalid_input", "invalid_input"])
    }

    @Test("a command stopped after its failure commit is continued on redelivery, not skipped", arguments: StoreKind.allCases)
    func continuedAfterFailureCommit(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let failures = FailureBudget(1)
        _ = try await processor(store).process(run("t1", id: "run-1"), topic: topics.runs)
        await #expect(throws: CancellationError.self) {
            try await Task {
                try await processor(store, failures: failures, hooks: crash(at: .afterFailureCommit)).process(approve("t1", id: "ok-1"), topic: topics.resumes)
            }.value
        }
        #expect(try await store.command("ok-1")?.status == .started)
        #expect(try await store.thread("t1")?.status == .ready)
        // The redelivered resume continues the run from the failure instead of being a duplicate.
        #expect(try await processor(store, failures: failures).process(approve("t1", id: "ok-1"), topic: topics.resumes) == .applied(.completed))
        #expect(try await store.command("ok-1")?.status == .applied)
        #expect(try await events(store).filter { $0["type"] == "completed" }.count == 1)
        #expect(try await processor(store).process(approve("t1", id: "ok-1"), topic: topics.resumes) == .duplicate)
    }

    @Test("an edit stopped before its continuation is continued on redelivery", arguments: StoreKind.allCases)
    func continuedAfterEdit(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        _ = try await processor(store).process(run("t1", id: "run-1"), topic: topics.runs)
        let edit = CommandMessage(id: "edit-1", threadID: "t1", body: .updateState(values: ["approved": true], asNode: "review", checkpointID: nil, continueRun: true))
        await #expect(throws: CancellationError.self) {
            try await Task { try await processor(store, hooks: crash(at: .betweenUpdateAndContinue)).process(edit, topic: topics.runs) }.value
        }
        #expect(try await store.command("edit-1")?.status == .started)
        #expect(try await processor(store).process(edit, topic: topics.runs) == .applied(.completed))
        #expect(try await store.command("edit-1")?.status == .applied)
    }

    @Test("a command left part-way with no redelivery is continued by the stall sweep, and parked after too many tries", arguments: StoreKind.allCases)
    func stallSweep(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        for thread in ["t1", "t2"] {
            _ = try await processor(store).process(run(thread, id: "run-\(thread)"), topic: topics.runs)
            await #expect(throws: CancellationError.self) {
                try await Task {
                    try await processor(store, failures: FailureBudget(1), hooks: crash(at: .afterFailureCommit)).process(approve(thread, id: "ok-\(thread)"), topic: topics.resumes)
                }.value
            }
        }
        var configuration = Worker.Configuration()
        configuration.stallTimeout = .zero
        configuration.processing.retryDelay = .zero
        var registry = GraphRegistry()
        try registry.register(try makeApprovalGraph(checkpointer: InMemoryCheckpointer(), failures: FailureBudget(3)))
        configuration.stallAttempts = 1
        let worker = Worker(configuration: configuration, registry: registry, store: store, logger: Logger(label: "test"))
        // The sweep's first try of t1 fails three more times and parks it; t2 completes.
        #expect(try await worker.recoverStalled(relay: nil) == 2)
        let statuses = [try await store.thread("t1")?.status, try await store.thread("t2")?.status]
        #expect(statuses.sorted { "\($0!)" < "\($1!)" } == [.completed, .failed])
        #expect(try await store.command("ok-t1")?.status.isFinal == true)
        #expect(try await store.command("ok-t2")?.status.isFinal == true)
        #expect(try await worker.recoverStalled(relay: nil) == 0)
    }

    @Test("a .sync run stopped between its steps is continued on redelivery", arguments: StoreKind.allCases)
    func syncContinued(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        _ = try await processor(store, durability: .sync).process(run("t1", id: "run-1"), topic: topics.runs)
        // The send node fails once; the command stops after that failure commit.
        await #expect(throws: CancellationError.self) {
            try await Task {
                try await processor(store, failures: FailureBudget(1), hooks: crash(at: .afterFailureCommit), durability: .sync).process(approve("t1", id: "ok-1"), topic: topics.resumes)
            }.value
        }
        let version = try await store.thread("t1")?.version ?? 0
        #expect(try await processor(store, durability: .sync).process(approve("t1", id: "ok-1"), topic: topics.resumes) == .applied(.completed))
        #expect(try await store.thread("t1")?.version ?? 0 > version)
    }

    @Test("a command id already used by another thread or another kind is dead-lettered as duplicate_id, alone or in a batch, and the command that owns the id is untouched", arguments: StoreKind.allCases)
    func idUsedByAnotherCommand(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        _ = try await processor(store).process(run("t1", id: "run-1"), topic: topics.runs)
        // ok-1 stops after its failure commit: its entry is `started`, owned by thread t1.
        await #expect(throws: CancellationError.self) {
            try await Task {
                try await processor(store, failures: FailureBudget(1), hooks: crash(at: .afterFailureCommit)).process(approve("t1", id: "ok-1"), topic: topics.resumes)
            }.value
        }
        let worker = try processor(store)
        func expectClash(_ result: ProcessResult?, owner: String, _ what: String) {
            guard case .deadLetter(let reason) = result else {
                Issue.record("\(what): expected a duplicate_id dead letter, got \(String(describing: result))")
                return
            }
            #expect(reason.code == "duplicate_id", "\(what)")
            #expect(reason.detail.contains("thread '\(owner)'"), "\(what): \(reason.detail)")
        }
        // Another thread, the id of a command left part-way; another thread, the id of a final
        // one; the same thread, the id of a command of another kind.
        expectClash(try await worker.process(run("t2", id: "ok-1"), topic: topics.runs), owner: "t1", "a run of t2 with ok-1's id")
        expectClash(try await worker.process(run("t2", id: "run-1"), topic: topics.runs), owner: "t1", "a run of t2 with run-1's id")
        expectClash(try await worker.process(approve("t1", id: "run-1"), topic: topics.resumes), owner: "t1", "a resume of t1 with run-1's id")
        let batched = await worker.processBatch([
            CommandProcessor.BatchItem(command: run("t3", id: "ok-1"), topic: topics.runs),
            CommandProcessor.BatchItem(command: run("t4", id: "run-1"), topic: topics.runs),
        ])
        for outcome in batched {
            guard case .processed(let processed) = outcome else {
                Issue.record("a batched command with a used id was not settled: \(outcome)")
                continue
            }
            expectClash(processed.result, owner: "t1", "a batched run with a used id")
        }
        // Giving up the clashing command leaves the owner's entry and thread alone.
        _ = await worker.abandon(run("t2", id: "ok-1"), reason: DeadLetterReason("duplicate_id", "test"))
        let owner = try await store.command("ok-1")
        #expect(owner?.threadID == "t1" && owner?.kind == "resume" && owner?.status == .started, "\(String(describing: owner))")
        for thread in ["t2", "t3", "t4"] { #expect(try await store.thread(thread) == nil, "thread \(thread) was created") }
        // The owner, redelivered, is still continued.
        #expect(try await worker.process(approve("t1", id: "ok-1"), topic: topics.resumes) == .applied(.completed))
        #expect(try await store.command("run-1")?.threadID == "t1")
        #expect(try await store.command("run-1")?.kind == "run")
    }

    @Test("two commands of one thread in one batch (keys that differ but share a partition): the first is applied, the second is left to the single path", arguments: StoreKind.allCases)
    func batchWithOneThreadTwice(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let worker = try processor(store)
        _ = try await worker.process(run("t1", id: "run-1"), topic: topics.runs)
        let no = CommandMessage(id: "no-1", threadID: "t1", body: .resume(value: ["approved": false], values: nil, checkpointID: nil))
        let outcomes = await worker.processBatch([
            CommandProcessor.BatchItem(command: approve("t1", id: "yes-1"), topic: topics.resumes),
            CommandProcessor.BatchItem(command: no, topic: topics.resumes),
        ])
        guard case .processed(let first) = outcomes[0], first.result == .applied(.completed), case .alone = outcomes[1] else {
            Issue.record("expected the first applied and the second left alone, got \(outcomes)")
            return
        }
        // Its commit lost to the first one's: nothing of it was written, and on its own it
        // sees the question already answered.
        #expect(try await store.command("no-1") == nil)
        #expect(try await worker.process(no, topic: topics.resumes) == .rejected("no_pending_interrupt"))
        let types = try await events(store).compactMap { $0["type"]?.stringValue }
        #expect(types.filter { $0 == "completed" }.count == 1)
        #expect(types.filter { $0 == "rejected" }.count == 1)
    }

    @Test("a batch settles commands of different threads in one round trip each way; duplicates and refusals are left to the single path", arguments: StoreKind.allCases)
    func batch(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let processor = try processor(store)
        let runs = (0..<8).map { CommandProcessor.BatchItem(command: run("b\($0)", id: "run-b\($0)"), topic: topics.runs) }
        let first = await processor.processBatch(runs)
        for outcome in first {
            guard case .processed(let processed) = outcome, processed.result == .applied(.interrupted) else {
                Issue.record("expected every run applied in the batch, got \(outcome)")
                continue
            }
            #expect(processed.outbox.contains { (try? JSONValue(json: $0.payload))?["type"] == "interrupt" })
        }
        #expect(try await events(store).filter { $0["type"] == "interrupt" }.count == 8)
        // Again: every command is a duplicate.
        for outcome in await processor.processBatch(runs) {
            guard case .processed(let processed) = outcome, processed.result == .duplicate else {
                Issue.record("expected a duplicate, got \(outcome)")
                continue
            }
        }
        // New runs on paused threads would be refused: the batch leaves them to the single path.
        let busy = await processor.processBatch([CommandProcessor.BatchItem(command: run("b0", id: "run-again"), topic: topics.runs)])
        guard case .alone = busy[0] else {
            Issue.record("a refused command was settled by the batch: \(busy[0])")
            return
        }
        #expect(try await processor.process(run("b0", id: "run-again"), topic: topics.runs) == .rejected("thread_busy"))
        // Resumes in a batch complete their threads.
        let resumes = (0..<8).map { CommandProcessor.BatchItem(command: approve("b\($0)", id: "ok-b\($0)"), topic: topics.resumes) }
        for outcome in await processor.processBatch(resumes) {
            guard case .processed(let processed) = outcome, processed.result == .applied(.completed) else {
                Issue.record("expected every resume applied in the batch, got \(outcome)")
                continue
            }
        }
        #expect(try await events(store).filter { $0["type"] == "completed" }.count == 8)
    }

    @Test("a batched command that lost its thread to another writer is left to the single path and applied once")
    func batchConflict() async throws {
        let store = InMemoryCheckpointer()
        let processor = try processor(store)
        _ = try await processor.process(run("c1", id: "run-c1"), topic: topics.runs)
        // Another writer moves the thread between the batch's load and its commit: the batch's
        // commit loses the version check, so the command is handed back untouched.
        let racing = RacingStore(base: store) {
            _ = try? await processor.process(CommandMessage(id: "cancel-c1", threadID: "c1", body: .cancel(reason: "race")), topic: topics.runs)
        }
        let raced = try self.processor(racing)
        let outcome = await raced.processBatch([CommandProcessor.BatchItem(command: approve("c1", id: "ok-c1"), topic: topics.resumes)])
        guard case .alone = outcome[0] else {
            Issue.record("the losing commit was reported as settled: \(outcome[0])")
            return
        }
        #expect(try await store.command("ok-c1") == nil)
        #expect(try await raced.process(approve("c1", id: "ok-c1"), topic: topics.resumes) == .rejected("already_resolved"))
    }

    @Test("PostgreSQL refusing a command's data for good is a permanent failure; an outage is transient")
    func classification() async throws {
        let store = try await StoreKind.postgres.make()
        let processor = try processor(store)
        // Random characters: PostgreSQL compresses repetitive text below the index row limit.
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        let long = String((0..<3_000).map { _ in alphabet.randomElement()! })
        do {
            _ = try await processor.process(run(long, id: "long-1"), topic: topics.runs)
            Issue.record("a 3,000-character thread id was stored")
        } catch {
            guard case .permanent(let code, let detail) = FailureKind.of(error) else {
                Issue.record("expected a permanent failure, got \(FailureKind.of(error)) for \(error)")
                return
            }
            #expect(code == "storage_rejected")
            #expect(detail.contains("54000"))
        }
        (store as! PostgresCheckpointer).close()
        do {
            _ = try await processor.process(run("t1", id: "after-close"), topic: topics.runs)
            Issue.record("a closed store accepted a command")
        } catch {
            guard case .transient = FailureKind.of(error) else {
                Issue.record("expected a transient failure, got \(FailureKind.of(error)) for \(error)")
                return
            }
        }
    }
}

/// A store whose batch commit first lets `interfere` move a thread, as a racing worker would.
final class RacingStore: WorkerStore {
    let base: InMemoryCheckpointer
    let interfere: @Sendable () async -> Void

    init(base: InMemoryCheckpointer, interfere: @escaping @Sendable () async -> Void) {
        self.base = base
        self.interfere = interfere
    }

    func commitBatch(_ commits: [StepCommit]) async throws -> [Result<Int64, any Error>] {
        await interfere()
        return try await base.commitBatch(commits)
    }

    func thread(_ threadID: String) async throws -> ThreadRecord? { try await base.thread(threadID) }
    func checkpoint(thread threadID: String, id: CheckpointID?) async throws -> CheckpointTuple? { try await base.checkpoint(thread: threadID, id: id) }
    func history(thread threadID: String, query: HistoryQuery) async throws -> [CheckpointTuple] { try await base.history(thread: threadID, query: query) }
    func commit(_ commit: StepCommit) async throws -> Int64 { try await base.commit(commit) }
    func load(thread threadID: String, checkpointID: CheckpointID?) async throws -> ThreadSnapshot? { try await base.load(thread: threadID, checkpointID: checkpointID) }
    func interrupts(thread threadID: String) async throws -> [InterruptRecord] { try await base.interrupts(thread: threadID) }
    func deleteThread(_ threadID: String) async throws { try await base.deleteThread(threadID) }
    func command(_ commandID: String) async throws -> CommandRecord? { try await base.command(commandID) }
    func finishCommand(_ record: CommandRecord, outbox: [OutboxMessage]) async throws -> Bool { try await base.finishCommand(record, outbox: outbox) }
    func unpublishedOutbox(limit: Int) async throws -> [OutboxMessage] { try await base.unpublishedOutbox(limit: limit) }
    func markPublished(_ ids: [String]) async throws { try await base.markPublished(ids) }
    func claimDueInterrupts(at date: Date, leaseUntil: Date, limit: Int) async throws -> [InterruptRecord] { try await base.claimDueInterrupts(at: date, leaseUntil: leaseUntil, limit: limit) }
    func deferInterrupt(thread threadID: String, id: String, after date: Date) async throws -> Int { try await base.deferInterrupt(thread: threadID, id: id, after: date) }
    func claimStalledCommands(stalledFor: Duration, leaseFor: Duration, limit: Int) async throws -> [CommandRecord] { try await base.claimStalledCommands(stalledFor: stalledFor, leaseFor: leaseFor, limit: limit) }
}
