import Foundation
import Interlude
import InterludePostgres
import Testing

/// The worker's bookkeeping in PostgreSQL: ledger states, batched loads and commits, claims.
@Suite("PostgreSQL worker bookkeeping", .tags(.postgres), .timeLimit(.minutes(2)))
struct WorkerBookkeepingTests {
    let schema = TestDatabase.freshSchema("worker")

    func first(_ thread: String, command: String, status: CommandStatus = .applied, interrupts: [InterruptRecord] = []) -> StepCommit {
        let id = CheckpointID.next()
        return Fixtures.commit(
            thread: thread, expected: 0, checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(id), blobs: [])],
            interrupts: interrupts.map { var record = $0; record.checkpointID = id; return record },
            extras: CommitExtras(
                outbox: [OutboxMessage(id: "event-\(command)", topic: "events", key: thread, payload: Data("{}".utf8))],
                commands: [CommandRecord(commandID: command, threadID: thread, kind: "run", status: status)]))
    }

    @Test("a started ledger entry is updated by later commits; a final one refuses them")
    func ledgerStates() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        _ = try await store.commit(first("t1", command: "c1", status: .started))
        #expect(try await store.command("c1")?.status == .started)
        let head = try #require(try await store.thread("t1")?.head)
        let next = CheckpointID.next(after: head)
        let finishing = Fixtures.commit(
            thread: "t1", expected: 1, checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(next, parent: head, step: 1), blobs: [])],
            extras: CommitExtras(commands: [CommandRecord(commandID: "c1", threadID: "t1", kind: "run", status: .applied)]))
        #expect(try await store.commit(finishing) == 2)
        #expect(try await store.command("c1")?.status == .applied)
        // Final: the same command cannot commit again, even against the current version.
        var again = finishing
        again.expectedVersion = 2
        again.checkpoints = [NewCheckpoint(checkpoint: Fixtures.checkpoint(CheckpointID.next(after: next), parent: next, step: 2), blobs: [])]
        again.head = again.checkpoints[0].checkpoint.id
        let error = await #expect(throws: GraphError.self) { try await store.commit(again) }
        #expect(error?.code == .duplicateCommand)
        #expect(try await store.thread("t1")?.version == 2)
        // finishCommand writes only over a started entry.
        #expect(try await store.finishCommand(CommandRecord(commandID: "c1", threadID: "t1", kind: "run", status: .rejected, outcome: "x"), outbox: []) == false)
        #expect(try await store.finishCommand(CommandRecord(commandID: "c2", threadID: "t1", kind: "resume", status: .rejected, outcome: "no_pending_interrupt"), outbox: [
            OutboxMessage(id: "rejected-c2", topic: "events", key: "t1", payload: Data("{}".utf8)),
        ]) == true)
        #expect(try await store.finishCommand(CommandRecord(commandID: "c2", threadID: "t1", kind: "resume", status: .rejected, outcome: "again"), outbox: [
            OutboxMessage(id: "rejected-c2-again", topic: "events", key: "t1", payload: Data("{}".utf8)),
        ]) == false)
        let outbox = try await store.unpublishedOutbox(limit: 100).map(\.id)
        #expect(outbox.contains("rejected-c2") && !outbox.contains("rejected-c2-again"))
    }

    @Test("a ledger entry is never replaced by another thread's or kind's command with the same id: its commit and its finish write nothing", arguments: ["memory", "postgres"])
    func ledgerEntryKeepsItsOwner(store kind: String) async throws {
        let postgres = kind == "postgres" ? try await makeCheckpointer(schema: schema) : nil
        defer { postgres?.close() }
        let store: any WorkerStoreForTests = postgres ?? InMemoryCheckpointer()
        _ = try await store.commit(first("owner", command: "c1", status: .started))
        // Another thread's commit naming the same command id, as a worker would make it when
        // it read the ledger before the owner's entry existed: refused, nothing of it written.
        let error = await #expect(throws: GraphError.self) { try await store.commit(first("other", command: "c1", status: .applied)) }
        #expect(error?.code == .duplicateCommand)
        #expect(try await store.thread("other") == nil)
        // Another kind on the owner's own thread: refused the same way.
        let head = try #require(try await store.thread("owner")?.head)
        let next = CheckpointID.next(after: head)
        let resume = Fixtures.commit(
            thread: "owner", expected: 1, checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(next, parent: head, step: 1), blobs: [])],
            extras: CommitExtras(commands: [CommandRecord(commandID: "c1", threadID: "owner", kind: "resume", status: .applied)]))
        let kindError = await #expect(throws: GraphError.self) { try await store.commit(resume) }
        #expect(kindError?.code == .duplicateCommand)
        #expect(try await store.thread("owner")?.version == 1)
        // Finishing another command under the id is refused the same way, writing neither the
        // entry nor its events.
        let finishError = await #expect(throws: GraphError.self) {
            try await store.finishCommand(CommandRecord(commandID: "c1", threadID: "other", kind: "run", status: .rejected, outcome: "x"), outbox: [
                OutboxMessage(id: "rejected-other", topic: "events", key: "other", payload: Data("{}".utf8)),
            ])
        }
        #expect(finishError?.code == .duplicateCommand)
        #expect(try await store.command("c1") == CommandRecord(commandID: "c1", threadID: "owner", kind: "run", status: .started))
        #expect(try await store.unpublishedOutbox(limit: 10).map(\.id) == ["event-c1"])
    }

    @Test("a commit racing the owner of its command id (the owner's entry not yet visible when the commit began) fails and writes nothing", arguments: [CommandStatus.started, .applied])
    func ledgerRace(ownerStatus: CommandStatus) async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let owner = try await PostgresConnection.connect(url: try TestDatabase.url(), searchPath: [schema])
        // The owner's entry, inserted in a transaction left open: the other thread's commit
        // starts without seeing it, then waits on its key.
        try await owner.execute(RaceSQL.begin)
        try await owner.execute(RaceSQL.insertEntry, ["c1", "owner", .text(ownerStatus.rawValue)])
        let racing = Task { try await store.commit(first("other", command: "c1", status: .applied)) }
        while try await owner.query(RaceSQL.waitingOnLock).first?.decode(Int64.self, at: 0) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try await owner.execute(RaceSQL.commit)
        let error = await #expect(throws: GraphError.self) { _ = try await racing.value }
        #expect(error?.code == .duplicateCommand)
        #expect(error?.message == "command id c1 is already used by a run command of thread owner", "\(String(describing: error))")
        #expect(try await store.thread("other") == nil)
        #expect(try await store.command("c1") == CommandRecord(commandID: "c1", threadID: "owner", kind: "run", status: ownerStatus))
        #expect(try await store.unpublishedOutbox(limit: 10).isEmpty)
    }

    @Test("an outbox row whose id is already stored is dropped and the first one kept, in memory as in PostgreSQL", arguments: ["memory", "postgres"])
    func outboxIDsAreUnique(store kind: String) async throws {
        let postgres = kind == "postgres" ? try await makeCheckpointer(schema: schema) : nil
        defer { postgres?.close() }
        let store: any WorkerStoreForTests = postgres ?? InMemoryCheckpointer()
        var one = first("one", command: "o1")
        one.extras.outbox = [OutboxMessage(id: "same", topic: "events", key: "one", payload: Data("\"first\"".utf8))]
        var two = first("two", command: "o2")
        two.extras.outbox = [
            OutboxMessage(id: "same", topic: "events", key: "two", payload: Data("\"second\"".utf8)),
            OutboxMessage(id: "other", topic: "events", key: "two", payload: Data("{}".utf8)),
        ]
        _ = try await store.commit(one)
        _ = try await store.commit(two)
        _ = try await store.finishCommand(CommandRecord(commandID: "o3", threadID: "one", kind: "resume", status: .rejected, outcome: "x"), outbox: [
            OutboxMessage(id: "same", topic: "events", key: "one", payload: Data("\"third\"".utf8)),
        ])
        let rows = try await store.unpublishedOutbox(limit: 10)
        #expect(rows.map(\.id) == ["same", "other"])
        #expect(rows.first.map { String(decoding: $0.payload, as: UTF8.self) } == "\"first\"")
    }

    @Test("a batch commit applies each thread on its own: winners, a lost race, a duplicate, and a refused value")
    func batchCommit() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        _ = try await store.commit(first("moved", command: "m0"))
        _ = try await store.commit(first("done", command: "d0", status: .applied))
        var stale = first("moved", command: "m1")
        stale.expectedVersion = 0
        var duplicate = first("dup-thread", command: "d0")
        duplicate.threadID = "done"
        duplicate.expectedVersion = 1
        let wins = (0..<4).map { first("win-\($0)", command: "w\($0)") }
        let results = try await store.commitBatch(wins + [stale, duplicate])
        for (i, result) in results.prefix(4).enumerated() {
            #expect((try? result.get()) == 1, "win-\(i): \(result)")
        }
        #expect(throws: GraphError.self) { try results[4].get() }
        if case .failure(let error as GraphError) = results[5] { #expect(error.code == .duplicateCommand) } else { Issue.record("expected a duplicate, got \(results[5])") }
        #expect(try await store.command("w3")?.status == .applied)
        #expect(try await store.command("m1") == nil)

        // A value PostgreSQL refuses (jsonb takes no NUL) fails only its own thread.
        var poisoned = first("poison", command: "p1", interrupts: [Fixtures.interrupt("q", thread: "poison", checkpoint: CheckpointID.next())])
        poisoned.interrupts[0].value = .string("bad\u{0}")
        let mixed = try await store.commitBatch([first("ok-1", command: "o1"), poisoned, first("ok-2", command: "o2")])
        #expect((try? mixed[0].get()) == 1)
        #expect((try? mixed[2].get()) == 1)
        guard case .failure(let error as GraphError) = mixed[1], let underlying = error.underlying as? PostgresError else {
            Issue.record("expected the poisoned commit to fail with PostgreSQL's refusal, got \(mixed[1])")
            return
        }
        #expect(underlying.sqlState?.errorClass == "22")
        #expect(try await store.thread("poison") == nil)
    }

    @Test("a batch load brings each command's ledger entry and its thread at the head")
    func batchLoad() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let reference = InMemoryCheckpointer()
        for thread in ["a", "b"] {
            for checkpointer in [store, reference] as [any Checkpointer] {
                _ = try await checkpointer.commit(first(thread, command: "run-\(thread)", status: .started,
                    interrupts: [Fixtures.interrupt("q-\(thread)", thread: thread, checkpoint: CheckpointID.next())]))
            }
        }
        let requests = [("run-a", "a"), ("new", "c"), ("run-b", "b")].map { (commandID: $0.0, threadID: $0.1) }
        let loaded = try await store.loadCommands(requests)
        #expect(loaded.map { $0.0?.commandID } == ["run-a", nil, "run-b"])
        #expect(loaded[1].1 == nil)
        for (i, thread) in ["a", "b"].enumerated() {
            let snapshot = try #require(loaded[i * 2].1)
            #expect(snapshot.record.threadID == thread)
            #expect(snapshot.interrupts.map(\.id) == ["q-\(thread)"])
            #expect(snapshot.tuple?.checkpoint.id == snapshot.record.head)
        }
    }

    @Test("stalled commands are claimed once per lease, oldest first, counting attempts")
    func stalledClaims() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        _ = try await store.commit(first("s1", command: "stuck", status: .started))
        _ = try await store.commit(first("s2", command: "fine", status: .applied))
        let claimed = try await store.claimStalledCommands(stalledFor: .zero, leaseFor: .seconds(60), limit: 10)
        #expect(claimed.map(\.commandID) == ["stuck"])
        #expect(claimed.first?.attempts == 1)
        #expect(try await store.claimStalledCommands(stalledFor: .zero, leaseFor: .seconds(60), limit: 10).isEmpty)
    }
}

/// The bookkeeping calls both stores have (`WorkerStore` lives in InterludeWorker, which this
/// target does not import).
protocol WorkerStoreForTests: Sendable {
    func commit(_ commit: StepCommit) async throws -> Int64
    func finishCommand(_ record: CommandRecord, outbox: [OutboxMessage]) async throws -> Bool
    func unpublishedOutbox(limit: Int) async throws -> [OutboxMessage]
    func thread(_ threadID: String) async throws -> ThreadRecord?
    func command(_ commandID: String) async throws -> CommandRecord?
}

extension InMemoryCheckpointer: WorkerStoreForTests {}
extension PostgresCheckpointer: WorkerStoreForTests {}

enum RaceSQL {
    static let begin = PostgresStatement("race.begin", sql: "BEGIN")
    static let commit = PostgresStatement("race.commit", sql: "COMMIT")
    static let insertEntry = PostgresStatement("race.insert_entry", sql: "INSERT INTO command_ledger (command_id, thread_id, kind, status) VALUES ($1, $2, 'run', $3)")
    static let waitingOnLock = PostgresStatement("race.waiting", sql: "SELECT count(*)::int8 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
}
