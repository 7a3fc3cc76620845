import Foundation
import Synchronization

/// A checkpointer that keeps everything in memory: for tests, examples and in-process use.
///
/// It behaves like the durable checkpointers (atomic commits, thread-version compare-and-set,
/// ledger uniqueness) and guards the rule every backend relies on: a saved checkpoint or blob
/// is never changed afterwards. A commit that tries is a programming error and traps; and
/// ``verifyIntegrity()`` re-checks every stored checkpoint against the fingerprint taken
/// when it was saved.
///
/// A class whose store sits under one `Mutex` rather than an actor: every call finishes
/// without suspending, so a run's commits cost no hop to another executor.
public final class InMemoryCheckpointer: Checkpointer {
    private struct ThreadData {
        var record: ThreadRecord
        var checkpoints: [CheckpointID: Checkpoint] = [:]
        var fingerprints: [CheckpointID: Int] = [:]
        var blobs: [BlobKey: ChannelBlob] = [:]
        var writes: [CheckpointID: [PendingWrite]] = [:]
        var interrupts: [InterruptRecord] = []
    }

    private struct LedgerEntry {
        var record: CommandRecord
        var updatedAt: Date
        var leaseUntil: Date?
    }

    private struct InterruptKey: Hashable {
        var thread: String
        var id: String
    }

    private struct Store {
        var threads: [String: ThreadData] = [:]
        var ledger: [String: LedgerEntry] = [:]
        var outbox: [OutboxMessage] = []
        var outboxIDs: Set<String> = []
        var published: Set<String> = []
        var interruptLeases: [InterruptKey: (until: Date, attempts: Int)] = [:]
        var commitCount = 0

        /// Keeps outbox rows whose id is new; one already stored is dropped and the first kept,
        /// as PostgreSQL's unique id does, so a clash of event ids shows here too.
        mutating func appendOutbox(_ rows: [OutboxMessage]) {
            for row in rows where outboxIDs.insert(row.id).inserted { outbox.append(row) }
        }

        /// Throws when a command of `commands` is already final (it was applied meanwhile) or
        /// its id is held by another thread's or kind's entry (as PostgreSQL's commit refuses).
        func checkNotFinal(_ commands: [CommandRecord]) throws(GraphError) {
            for command in commands {
                guard let existing = store(command.commandID) else { continue }
                if existing.status.isFinal || !existing.isSameCommand(as: command) {
                    throw GraphError(.duplicateCommand, "command '\(command.commandID)' was already applied to thread '\(existing.threadID)'")
                }
            }
        }

        func store(_ id: String) -> CommandRecord? { ledger[id]?.record }

        mutating func write(_ commands: [CommandRecord], at date: Date) {
            for command in commands { ledger[command.commandID] = LedgerEntry(record: command, updatedAt: date, leaseUntil: nil) }
        }
    }

    private let store = Mutex(Store())

    /// How many commits were applied; for tests and benchmarks.
    public var commitCount: Int { store.withLock { $0.commitCount } }

    /// Creates an empty checkpointer.
    public init() {}

    public func thread(_ threadID: String) async throws -> ThreadRecord? {
        store.withLock { $0.threads[threadID]?.record }
    }

    public func checkpoint(thread threadID: String, id: CheckpointID?) async throws -> CheckpointTuple? {
        store.withLock { store in
            guard let data = store.threads[threadID] else { return nil }
            guard let id = id ?? data.record.head, let checkpoint = data.checkpoints[id] else { return nil }
            return Self.tuple(checkpoint, in: data)
        }
    }

    public func history(thread threadID: String, query: HistoryQuery) async throws -> [CheckpointTuple] {
        store.withLock { store in
            guard let data = store.threads[threadID] else { return [] }
            var result: [CheckpointTuple] = []
            for id in data.checkpoints.keys.sorted(by: >) {
                if let limit = query.limit, result.count >= limit { break }
                let checkpoint = data.checkpoints[id]!
                if query.matches(checkpoint) { result.append(Self.tuple(checkpoint, in: data)) }
            }
            return result
        }
    }

    private static func tuple(_ checkpoint: Checkpoint, in data: ThreadData) -> CheckpointTuple {
        var blobs: [ChannelBlob] = []
        for (channel, version) in checkpoint.channelVersions {
            var key = BlobKey(channel: channel, version: version)
            while let blob = data.blobs[key] {
                blobs.append(blob)
                guard let base = blob.base else { break }
                key = BlobKey(channel: channel, version: base)
            }
        }
        return CheckpointTuple(checkpoint: checkpoint, blobs: blobs, pendingWrites: data.writes[checkpoint.id] ?? [])
    }

    public func commit(_ commit: StepCommit) async throws -> Int64 {
        try store.withLock { store throws(GraphError) -> Int64 in
            let current = store.threads[commit.threadID]?.record.version ?? 0
            guard current == commit.expectedVersion else {
                throw GraphError(
                    .threadVersionConflict,
                    "thread '\(commit.threadID)' moved on: expected version \(commit.expectedVersion), found \(current); re-read the thread and try again"
                )
            }
            try store.checkNotFinal(commit.extras.commands)
            let version = current + 1
            let empty = ThreadData(
                record: ThreadRecord(
                    threadID: commit.threadID, version: 0, head: nil, status: .ready, failureReason: nil,
                    graph: commit.graph, updatedAt: commit.committedAt))
            Self.apply(commit, version: version, to: &store.threads[commit.threadID, default: empty])
            store.write(commit.extras.commands, at: commit.committedAt)
            store.appendOutbox(commit.extras.outbox)
            store.commitCount += 1
            return version
        }
    }

    /// Applies a checked commit to a thread in place.
    private static func apply(_ commit: StepCommit, version: Int64, to data: inout ThreadData) {
        for new in commit.checkpoints {
            let id = new.checkpoint.id
            precondition(data.checkpoints[id] == nil, "InMemoryCheckpointer: checkpoint \(id) was saved twice; saved checkpoints must never change")
            data.checkpoints[id] = new.checkpoint
            data.fingerprints[id] = new.checkpoint.hashValue
            for blob in new.blobs {
                let key = BlobKey(channel: blob.channel, version: blob.version)
                if let existing = data.blobs[key] {
                    precondition(existing == blob, "InMemoryCheckpointer: blob \(blob.channel)@\(blob.version) was rewritten with other bytes")
                }
                data.blobs[key] = blob
            }
        }
        for batch in commit.writes {
            precondition(data.checkpoints[batch.checkpointID] != nil, "InMemoryCheckpointer: writes for unknown checkpoint \(batch.checkpointID)")
            var existing = data.writes[batch.checkpointID] ?? []
            for write in batch.writes {
                if let i = existing.firstIndex(where: { $0.taskID == write.taskID && $0.index == write.index }) {
                    existing[i] = write
                } else {
                    existing.append(write)
                }
            }
            data.writes[batch.checkpointID] = existing
        }
        precondition(data.checkpoints[commit.head] != nil, "InMemoryCheckpointer: head \(commit.head) is not a saved checkpoint")
        for record in commit.interrupts {
            if let i = data.interrupts.firstIndex(where: { $0.id == record.id }) {
                data.interrupts[i] = record
            } else {
                data.interrupts.append(record)
            }
        }
        data.record = ThreadRecord(
            threadID: commit.threadID, version: version, head: commit.head, status: commit.status,
            failureReason: commit.failureReason, graph: commit.graph, updatedAt: commit.committedAt)
    }

    public func interrupts(thread threadID: String) async throws -> [InterruptRecord] {
        store.withLock { $0.threads[threadID]?.interrupts ?? [] }
    }

    // MARK: Worker bookkeeping (InterludeWorker's WorkerStore; not part of Checkpointer)

    /// Writes a command's final ledger entry and its outbox rows, touching no thread: a
    /// refusal, a dead letter. Returns `false` (and writes nothing) when the command's entry is
    /// already final; throws `GraphError` `.duplicateCommand` (writing nothing) when the id is
    /// held by an entry of another thread or kind, as PostgreSQL does.
    public func finishCommand(_ record: CommandRecord, outbox: [OutboxMessage]) async throws -> Bool {
        let date = Date()
        return try store.withLock { store throws(GraphError) in
            if let existing = store.store(record.commandID) {
                guard existing.isSameCommand(as: record) else {
                    throw GraphError(.duplicateCommand, "command id \(record.commandID) is already used by a \(existing.kind) command of thread \(existing.threadID)")
                }
                if existing.status.isFinal { return false }
            }
            store.write([record], at: date)
            store.appendOutbox(outbox)
            return true
        }
    }

    /// The ledger entry of a command id.
    public func command(_ commandID: String) async throws -> CommandRecord? { store.withLock { $0.store(commandID) } }

    /// Pending interrupts whose deadline is at or before `date` and that no worker holds,
    /// oldest deadline first; each is leased until `leaseUntil`.
    public func claimDueInterrupts(at date: Date, leaseUntil: Date, limit: Int) async throws -> [InterruptRecord] {
        store.withLock { store in
            let due = store.threads.values.flatMap { $0.interrupts }.filter { record in
                guard record.status == .pending, let deadline = record.deadline, deadline <= date else { return false }
                return (store.interruptLeases[InterruptKey(thread: record.threadID, id: record.id)]?.until).map { $0 < date } ?? true
            }
            let claimed = Array(due.sorted { $0.deadline! < $1.deadline! }.prefix(limit))
            for record in claimed {
                let key = InterruptKey(thread: record.threadID, id: record.id)
                store.interruptLeases[key] = (leaseUntil, store.interruptLeases[key]?.attempts ?? 0)
            }
            return claimed
        }
    }

    /// A claimed deadline could not be fired at `date`: it is retried after 2^attempts
    /// seconds (at most 60). Returns the failed attempts so far.
    public func deferInterrupt(thread threadID: String, id: String, after date: Date) async throws -> Int {
        store.withLock { store in
            let key = InterruptKey(thread: threadID, id: id)
            let attempts = (store.interruptLeases[key]?.attempts ?? 0) + 1
            store.interruptLeases[key] = (date.addingTimeInterval(min(60, Double(1 << min(attempts, 6)))), attempts)
            return attempts
        }
    }

    /// Commands left `started` for longer than `stalledFor` that no worker holds, oldest first;
    /// each is leased for `leaseFor` and its attempts counted.
    public func claimStalledCommands(stalledFor: Duration, leaseFor: Duration, limit: Int) async throws -> [CommandRecord] {
        let now = Date()
        let date = now.addingTimeInterval(-Self.seconds(stalledFor))
        let leaseUntil = now.addingTimeInterval(Self.seconds(leaseFor))
        return store.withLock { store in
            let stalled = store.ledger.values.filter { entry in
                entry.record.status == .started && entry.updatedAt < date && (entry.leaseUntil.map { $0 < now } ?? true)
            }
            return stalled.sorted { $0.updatedAt < $1.updatedAt }.prefix(limit).map { entry in
                var claimed = entry
                claimed.leaseUntil = leaseUntil
                claimed.record.attempts += 1
                store.ledger[entry.record.commandID] = claimed
                return claimed.record
            }
        }
    }

    /// Outbox messages not yet marked published, oldest first.
    public func unpublishedOutbox(limit: Int) async throws -> [OutboxMessage] {
        store.withLock { store in
            let published = store.published
            return Array(store.outbox.lazy.filter { !published.contains($0.id) }.prefix(limit))
        }
    }

    /// Marks outbox messages published.
    public func markPublished(_ ids: [String]) async throws { store.withLock { $0.published.formUnion(ids) } }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    public func deleteThread(_ threadID: String) async throws { store.withLock { $0.threads[threadID] = nil } }

    /// Checks that no stored checkpoint differs from what was saved.
    /// - Throws: `GraphError` `.storage` naming the first checkpoint that changed.
    public func verifyIntegrity() throws(GraphError) {
        try store.withLock { store throws(GraphError) in
            for (threadID, data) in store.threads {
                for (id, checkpoint) in data.checkpoints where checkpoint.hashValue != data.fingerprints[id] {
                    throw GraphError(.storage, "checkpoint \(id) of thread '\(threadID)' changed after it was saved")
                }
            }
        }
    }
}
