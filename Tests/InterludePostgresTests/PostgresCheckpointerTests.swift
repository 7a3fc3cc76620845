import Foundation
import Interlude
import InterludePostgres
import Testing

@Suite("PostgresCheckpointer", .tags(.postgres), .timeLimit(.minutes(3)))
struct PostgresCheckpointerTests {
    let schema = TestDatabase.freshSchema("checkpointer")

    @Test("A commit round-trips checkpoints, full blobs, delta chains and pending writes exactly")
    func roundTrip() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let reference = InMemoryCheckpointer()
        let thread = "round-trip"
        let first = CheckpointID.next()
        let second = CheckpointID.next(after: first)
        let third = CheckpointID.next(after: second)
        let full = ChannelBlob(channel: "messages", version: first, encoding: .full, depth: 0, data: Fixtures.json(["a"]))
        let delta1 = ChannelBlob(channel: "messages", version: second, encoding: .appendDelta(base: first), depth: 1, data: Fixtures.json(["b"]))
        let delta2 = ChannelBlob(channel: "messages", version: third, encoding: .appendDelta(base: second), depth: 2, data: Fixtures.json(["c", "d"]))
        let fromEmpty = ChannelBlob(channel: "log", version: second, encoding: .appendDelta(base: nil), depth: 1, data: Fixtures.json([1]))
        let name = ChannelBlob(channel: "name", version: first, encoding: .full, depth: 0, data: Fixtures.json("Ada"))
        let commits = [
            Fixtures.commit(
                thread: thread, expected: 0,
                checkpoints: [NewCheckpoint(
                    checkpoint: Fixtures.checkpoint(first, step: -1, source: .input, versions: ["messages": first, "name": first],
                                                    metadata: ["run": "r1", "source": "caller's own", "nested": ["x": [1, 2]]]),
                    blobs: [full, name])]),
            Fixtures.commit(
                thread: thread, expected: 1,
                checkpoints: [
                    NewCheckpoint(
                        checkpoint: Fixtures.checkpoint(second, parent: first, step: 0, versions: ["messages": second, "name": first, "log": second],
                                                        seen: ["agent": ["__start__": first]]),
                        blobs: [delta1, fromEmpty]),
                    NewCheckpoint(
                        checkpoint: Fixtures.checkpoint(third, parent: second, step: 1, versions: ["messages": third, "name": first, "log": second]),
                        blobs: [delta2]),
                ],
                writes: [
                    CheckpointWrites(checkpointID: third, writes: [
                        PendingWrite(taskID: "t1", node: "a", index: 0, channel: "messages", value: Fixtures.json(["x"])),
                        PendingWrite(taskID: "t1", node: "a", index: -1, channel: "__interrupt__", value: Fixtures.json([["v": 1]])),
                        PendingWrite(taskID: "t2", node: "b", index: 0, channel: "name", value: Fixtures.json("Bob")),
                        PendingWrite(taskID: "t1", node: "a", index: 0, channel: "messages", value: Fixtures.json(["y"])),
                    ])
                ],
                status: .interrupted, interrupts: [Fixtures.interrupt("i1", thread: thread, checkpoint: third)]),
        ]
        for commit in commits {
            let version = try await store.commit(commit)
            #expect(try await reference.commit(commit) == version)
        }
        for id in [first, second, third] as [CheckpointID?] + [nil] {
            let stored = try #require(try await store.checkpoint(thread: thread, id: id))
            let expected = try #require(try await reference.checkpoint(thread: thread, id: id))
            #expect(stored.checkpoint == expected.checkpoint)
            #expect(stored.pendingWrites == expected.pendingWrites)
            #expect(Set(stored.blobs.map(\.version)) == Set(expected.blobs.map(\.version)))
            #expect(stored.blobs.sorted(by: Self.blobOrder) == expected.blobs.sorted(by: Self.blobOrder))
        }
        let head = try #require(try await store.checkpoint(thread: thread, id: nil))
        #expect(head.checkpoint.id == third)
        #expect(head.blobs.filter { $0.channel == "messages" }.count == 3)
        #expect(head.pendingWrites.map(\.value) == [Fixtures.json(["y"]), Fixtures.json([["v": 1]]), Fixtures.json("Bob")])
        #expect(try await store.thread(thread) == reference.thread(thread))
        #expect(try await store.interrupts(thread: thread) == reference.interrupts(thread: thread))
    }

    static func blobOrder(_ a: ChannelBlob, _ b: ChannelBlob) -> Bool {
        (a.channel, a.version) < (b.channel, b.version)
    }

    @Test("A missing thread or checkpoint reads as nil or empty")
    func missing() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        #expect(try await store.thread("nope") == nil)
        #expect(try await store.checkpoint(thread: "nope", id: nil) == nil)
        #expect(try await store.checkpoint(thread: "nope", id: CheckpointID.next()) == nil)
        #expect(try await store.history(thread: "nope", query: HistoryQuery()).isEmpty)
        #expect(try await store.interrupts(thread: "nope").isEmpty)
        #expect(try await store.command("nope") == nil)
    }

    @Test("Two writers racing on one thread version: exactly one wins and nothing of the loser is written")
    func casRace() async throws {
        let one = try await makeCheckpointer(schema: schema)
        let two = try await makeCheckpointer(schema: schema)
        defer { one.close(); two.close() }
        let thread = "race"
        let ids = try await Fixtures.linearThread(thread, count: 1, on: one)
        for round in 0..<5 {
            let expected = Int64(round + 1)
            func attempt(_ store: PostgresCheckpointer, _ label: String) async -> (CheckpointID, Result<Int64, any Error>) {
                let id = CheckpointID.next(after: ids[0])
                let commit = Fixtures.commit(
                    thread: thread, expected: expected,
                    checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(id, parent: ids[0], step: round + 1), blobs: [])],
                    extras: CommitExtras(
                        outbox: [OutboxMessage(id: "event-\(label)-\(round)", topic: "events", key: thread, payload: Data("{}".utf8))],
                        commands: [CommandRecord(commandID: "cmd-\(label)-\(round)", threadID: thread, kind: "run", status: .applied)]))
                do { return (id, .success(try await store.commit(commit))) } catch { return (id, .failure(error)) }
            }
            async let a = attempt(one, "a")
            async let b = attempt(two, "b")
            let results = await [(a, "a"), (b, "b")]
            let winners = results.filter { if case .success = $0.0.1 { true } else { false } }
            #expect(winners.count == 1, "exactly one writer must win round \(round)")
            for ((id, result), label) in results {
                switch result {
                case .success(let version):
                    #expect(version == expected + 1)
                    #expect(try await one.checkpoint(thread: thread, id: id) != nil)
                case .failure(let error):
                    let graphError = try #require(error as? GraphError, "expected a GraphError, got \(error)")
                    #expect(graphError.code == .threadVersionConflict)
                    #expect(try await one.checkpoint(thread: thread, id: id) == nil)
                    #expect(try await one.command("cmd-\(label)-\(round)") == nil)
                    #expect(try await one.unpublishedOutbox(limit: 100).allSatisfy { $0.id != "event-\(label)-\(round)" })
                }
            }
        }
        #expect(try await one.thread(thread)?.version == 6)
    }

    @Test("A new thread committed twice with expected version 0 conflicts the second time")
    func newThreadConflict() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        _ = try await Fixtures.linearThread("twice", count: 1, on: store)
        let again = Fixtures.commit(
            thread: "twice", expected: 0,
            checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(CheckpointID.next()), blobs: [])])
        let error = await #expect(throws: GraphError.self) { try await store.commit(again) }
        #expect(error?.code == .threadVersionConflict)
        #expect(error?.isRetriable == true)
        let stale = Fixtures.commit(
            thread: "absent", expected: 3,
            checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(CheckpointID.next()), blobs: [])])
        let absent = await #expect(throws: GraphError.self) { try await store.commit(stale) }
        #expect(absent?.code == .threadVersionConflict)
        #expect(try await store.thread("absent") == nil)
    }

    @Test("A command id already in the ledger fails the commit with duplicateCommand and writes nothing")
    func duplicateCommand() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let thread = "dup"
        let first = CheckpointID.next()
        let command = CommandRecord(commandID: "cmd-1", threadID: thread, kind: "run", status: .applied, outcome: "ok")
        _ = try await store.commit(Fixtures.commit(
            thread: thread, expected: 0,
            checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(first), blobs: [])],
            extras: CommitExtras(commands: [command])))
        #expect(try await store.command("cmd-1") == command)
        let second = CheckpointID.next(after: first)
        let replay = Fixtures.commit(
            thread: thread, expected: 1,
            checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(second, parent: first, step: 1), blobs: [])],
            interrupts: [Fixtures.interrupt("never", thread: thread, checkpoint: second)],
            extras: CommitExtras(
                outbox: [OutboxMessage(id: "never-published", topic: "events", key: thread, payload: Data())],
                commands: [CommandRecord(commandID: "cmd-2", threadID: thread, kind: "resume", status: .applied), command]))
        let error = await #expect(throws: GraphError.self) { try await store.commit(replay) }
        #expect(error?.code == .duplicateCommand)
        #expect(error?.message.contains("cmd-1") == true)
        #expect(try await store.thread(thread)?.version == 1)
        #expect(try await store.checkpoint(thread: thread, id: second) == nil)
        #expect(try await store.command("cmd-2") == nil)
        #expect(try await store.interrupts(thread: thread).isEmpty)
        #expect(try await store.unpublishedOutbox(limit: 100).isEmpty)
    }

    @Test("History is newest first and pages with limit, before and an exact metadata filter")
    func history() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let reference = InMemoryCheckpointer()
        let thread = "history"
        let metadata: (Int) -> [String: JSONValue] = { step in
            ["parity": step % 2 == 0 ? "even" : "odd", "tags": step == 4 ? ["a", "b"] : ["a"], "run": ["id": .string("r\(step / 5)")]]
        }
        let ids = try await Fixtures.linearThread(thread, count: 10, on: store, metadata: metadata)
        _ = try await Fixtures.linearThreadReplay(ids: ids, thread: thread, on: reference, metadata: metadata)
        let queries = [
            HistoryQuery(),
            HistoryQuery(limit: 3),
            HistoryQuery(limit: 3, before: ids[7]),
            HistoryQuery(before: ids[1]),
            HistoryQuery(filter: ["parity": "odd"]),
            HistoryQuery(limit: 2, filter: ["parity": "even", "step": 4]),
            HistoryQuery(filter: ["tags": ["a"]]),
            HistoryQuery(filter: ["run": ["id": "r1"]]),
            HistoryQuery(filter: ["run": [:]]),
            HistoryQuery(filter: ["source": "loop", "missing": .null]),
        ]
        for query in queries {
            let stored = try await store.history(thread: thread, query: query).map(\.checkpoint.id)
            let expected = try await reference.history(thread: thread, query: query).map(\.checkpoint.id)
            #expect(stored == expected, "query \(query)")
        }
        #expect(try await store.history(thread: thread, query: HistoryQuery()).map(\.checkpoint.id) == ids.reversed())
        let page = try await store.history(thread: thread, query: HistoryQuery(limit: 2))
        #expect(page.allSatisfy { $0.blobs.count == 1 })
    }

    @Test("Interrupts upsert by id keeping their order; due ones are claimed oldest deadline first, once per lease")
    func interrupts() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let thread = "interrupts-\(UInt32.random(in: 0...UInt32.max))"
        let first = CheckpointID.next()
        let late = Fixtures.now.addingTimeInterval(600)
        let soon = Fixtures.now.addingTimeInterval(60)
        let a = Fixtures.interrupt("a", thread: thread, checkpoint: first, deadline: late, onTimeout: .answer(["ok": true]))
        let b = Fixtures.interrupt("b", thread: thread, checkpoint: first, deadline: soon, onTimeout: .fail)
        var c = Fixtures.interrupt("c", thread: thread, checkpoint: first)
        // Asked inside a subgraph, by named approvers: kept as the in-memory checkpointer keeps it.
        c.namespace = "review:task-1"
        c.approvers = Approvers(users: ["ana"], roles: ["finance"], required: 2, rejectionDecides: true)
        _ = try await store.commit(Fixtures.commit(
            thread: thread, expected: 0, checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(first), blobs: [])],
            status: .interrupted, interrupts: [a, b, c]))
        #expect(try await store.interrupts(thread: thread) == [a, b, c])
        func claim(_ date: Date, lease: TimeInterval = 5) async throws -> [InterruptRecord] {
            try await store.claimDueInterrupts(at: date, leaseUntil: date.addingTimeInterval(lease), limit: 10).filter { $0.threadID == thread }
        }
        #expect(try await claim(Fixtures.now).isEmpty)
        #expect(try await claim(soon) == [b])
        // b is leased for 5 s: claimed again only once the lease ran out.
        #expect(try await claim(soon.addingTimeInterval(1)).isEmpty)
        #expect(try await claim(late) == [b, a])
        // A failed firing defers b by 2 s, then 4 s.
        #expect(try await store.deferInterrupt(thread: thread, id: "b", after: late) == 1)
        #expect(try await claim(late.addingTimeInterval(1)).isEmpty)
        #expect(try await claim(late.addingTimeInterval(6)) == [b, a])

        var resolved = a
        resolved.status = .resolved
        resolved.resolvedAt = soon
        resolved.resolvedBy = "cmd-9"
        let second = CheckpointID.next(after: first)
        _ = try await store.commit(Fixtures.commit(
            thread: thread, expected: 1,
            checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(second, parent: first, step: 1), blobs: [])],
            interrupts: [resolved]))
        #expect(try await store.interrupts(thread: thread) == [resolved, b, c])
        #expect(try await claim(late.addingTimeInterval(60)) == [b])
    }

    @Test("Outbox messages stay unpublished, oldest first, until marked")
    func outbox() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let thread = "outbox"
        let messages = (0..<5).map {
            OutboxMessage(id: "event-\($0)", topic: "interlude.events", key: thread, payload: Data([UInt8($0), 0, 255]),
                          headers: ["type": "step", "n": "\($0)"])
        }
        _ = try await store.commit(Fixtures.commit(
            thread: thread, expected: 0,
            checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(CheckpointID.next()), blobs: [])],
            extras: CommitExtras(outbox: messages)))
        #expect(try await store.unpublishedOutbox(limit: 3) == Array(messages.prefix(3)))
        try await store.markPublished(["event-0", "event-2", "unknown"])
        #expect(try await store.unpublishedOutbox(limit: 10) == [messages[1], messages[3], messages[4]])
        try await store.markPublished([])
        #expect(try await store.sweepPublishedOutbox(olderThan: Date().addingTimeInterval(3600)) == 2)
        #expect(try await store.unpublishedOutbox(limit: 10).count == 3)
    }

    @Test("Deleting a thread removes its checkpoints, blobs, writes and interrupts and keeps the ledger")
    func deleteThread() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        let thread = "doomed"
        let ids = try await Fixtures.linearThread(thread, count: 7, on: store)
        let last = CheckpointID.next(after: ids.last!)
        _ = try await store.commit(Fixtures.commit(
            thread: thread, expected: 7,
            checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(last, parent: ids.last, step: 7), blobs: [])],
            writes: [CheckpointWrites(checkpointID: last, writes: [PendingWrite(taskID: "t", node: "n", index: 0, channel: "c", value: Data("1".utf8))])],
            interrupts: [Fixtures.interrupt("x", thread: thread, checkpoint: last, deadline: Fixtures.now)],
            extras: CommitExtras(commands: [CommandRecord(commandID: "keep-me", threadID: thread, kind: "run", status: .applied)])))
        _ = try await Fixtures.linearThread("survivor", count: 2, on: store)

        try await store.deleteThread(thread)
        #expect(try await store.thread(thread) == nil)
        #expect(try await store.checkpoint(thread: thread, id: ids[2]) == nil)
        #expect(try await store.history(thread: thread, query: HistoryQuery()).isEmpty)
        #expect(try await store.interrupts(thread: thread).isEmpty)
        #expect(try await store.command("keep-me") != nil)
        #expect(try await store.history(thread: "survivor", query: HistoryQuery()).count == 2)
        // The same id can start over.
        _ = try await Fixtures.linearThread(thread, count: 1, on: store)
        #expect(try await store.thread(thread)?.version == 1)
    }

    @Test("The retention sweep deletes finished threads older than the cut-off only")
    func sweep() async throws {
        let store = try await makeCheckpointer(schema: schema)
        defer { store.close() }
        for (thread, status) in [("done", ThreadStatus.completed), ("broken", .failed), ("waiting", .interrupted), ("busy", .ready)] {
            _ = try await store.commit(Fixtures.commit(
                thread: "sweep-\(thread)", expected: 0,
                checkpoints: [NewCheckpoint(checkpoint: Fixtures.checkpoint(CheckpointID.next()), blobs: [])], status: status))
        }
        #expect(try await store.sweepFinishedThreads(olderThan: Fixtures.now, batchSize: 10) == 0)
        #expect(try await store.sweepFinishedThreads(olderThan: Fixtures.now.addingTimeInterval(1), batchSize: 1) == 1)
        #expect(try await store.sweepFinishedThreads(olderThan: Fixtures.now.addingTimeInterval(1), batchSize: 10) == 1)
        #expect(try await store.thread("sweep-done") == nil)
        #expect(try await store.thread("sweep-broken") == nil)
        #expect(try await store.thread("sweep-waiting") != nil)
        #expect(try await store.thread("sweep-busy") != nil)
    }
}

extension Fixtures {
    /// Commits the same checkpoints as `linearThread` produced (same ids) to another checkpointer.
    static func linearThreadReplay(
        ids: [CheckpointID], thread: String, on checkpointer: any Checkpointer, metadata: (Int) -> [String: JSONValue]
    ) async throws {
        var parent: CheckpointID?
        for (step, id) in ids.enumerated() {
            let blob = ChannelBlob(channel: "count", version: id, encoding: .full, depth: 0, data: json(.number(Double(step))))
            let cp = checkpoint(id, parent: parent, step: step, versions: ["count": id], metadata: metadata(step))
            _ = try await checkpointer.commit(
                commit(thread: thread, expected: Int64(step), checkpoints: [NewCheckpoint(checkpoint: cp, blobs: [blob])]))
            parent = id
        }
    }
}
