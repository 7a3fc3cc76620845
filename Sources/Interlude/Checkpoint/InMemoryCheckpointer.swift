import Foundation

/// A checkpointer that keeps everything in memory: for tests, examples and in-process use.
///
/// It behaves like the durable checkpointers (atomic commits, thread-version compare-and-set,
/// ledger uniqueness) and guards the rule every backend relies on: a saved checkpoint or blob
/// is never changed afterwards. A commit that tries is a programming error and traps; and
/// ``verifyIntegrity()`` re-checks every stored checkpoint against the fingerprint taken
/// when it was saved.
public actor InMemoryCheckpointer: Checkpointer {
    private struct ThreadData {
        var record: ThreadRecord
        var checkpoints: [CheckpointID: Checkpoint] = [:]
        var fingerprints: [CheckpointID: Int] = [:]
        var blobs: [BlobKey: ChannelBlob] = [:]
        var writes: [CheckpointID: [PendingWrite]] = [:]
        var interrupts: [InterruptRecord] = []
    }

    private var threads: [String: ThreadData] = [:]
    private var ledger: [String: CommandRecord] = [:]
    private var outbox: [OutboxMessage] = []
    private var published: Set<String> = []
    /// How many commits were applied; for tests and benchmarks.
    public private(set) var commitCount = 0

    /// Creates an empty checkpointer.
    public init() {}

    public func thread(_ threadID: String) async throws -> ThreadRecord? {
        threads[threadID]?.record
    }

    public func checkpoint(thread threadID: String, id: CheckpointID?) async throws -> CheckpointTuple? {
        guard let data = threads[threadID] else { return nil }
        guard let id = id ?? data.record.head, let checkpoint = data.checkpoints[id] else { return nil }
        return tuple(checkpoint, in: data)
    }

    public func history(thread threadID: String, query: HistoryQuery) async throws -> [CheckpointTuple] {
        guard let data = threads[threadID] else { return [] }
        var result: [CheckpointTuple] = []
        for id in data.checkpoints.keys.sorted(by: >) {
            if let limit = query.limit, result.count >= limit { break }
            let checkpoint = data.checkpoints[id]!
            if query.matches(checkpoint) { result.append(tuple(checkpoint, in: data)) }
        }
        return result
    }

    private func tuple(_ checkpoint: Checkpoint, in data: ThreadData) -> CheckpointTuple {
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
        let current = threads[commit.threadID]?.record.version ?? 0
        guard current == commit.expectedVersion else {
            throw GraphError(
                .threadVersionConflict,
                "thread '\(commit.threadID)' moved on: expected version \(commit.expectedVersion), found \(current); re-read the thread and try again"
            )
        }
        for command in commit.extras.commands where ledger[command.commandID] != nil {
            throw GraphError(.duplicateCommand, "command '\(command.commandID)' was already applied to thread '\(command.threadID)'")
        }
        let version = current + 1
        var data = threads[commit.threadID] ?? ThreadData(
            record: ThreadRecord(
                threadID: commit.threadID, version: 0, head: nil, status: .ready, failureReason: nil,
                graph: commit.graph, updatedAt: commit.committedAt))
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
        threads[commit.threadID] = data
        for command in commit.extras.commands { ledger[command.commandID] = command }
        outbox.append(contentsOf: commit.extras.outbox)
        commitCount += 1
        return version
    }

    public func record(_ extras: CommitExtras) async throws {
        for command in extras.commands where ledger[command.commandID] != nil {
            throw GraphError(.duplicateCommand, "command '\(command.commandID)' was already applied to thread '\(command.threadID)'")
        }
        for command in extras.commands { ledger[command.commandID] = command }
        outbox.append(contentsOf: extras.outbox)
    }

    public func interrupts(thread threadID: String) async throws -> [InterruptRecord] {
        threads[threadID]?.interrupts ?? []
    }

    public func dueInterrupts(at date: Date, limit: Int) async throws -> [InterruptRecord] {
        let due = threads.values.flatMap { $0.interrupts }.filter {
            $0.status == .pending && ($0.deadline.map { $0 <= date } ?? false)
        }
        return Array(due.sorted { $0.deadline! < $1.deadline! }.prefix(limit))
    }

    public func command(_ commandID: String) async throws -> CommandRecord? { ledger[commandID] }

    public func unpublishedOutbox(limit: Int) async throws -> [OutboxMessage] {
        Array(outbox.lazy.filter { !self.published.contains($0.id) }.prefix(limit))
    }

    public func markPublished(_ ids: [String]) async throws { published.formUnion(ids) }

    public func deleteThread(_ threadID: String) async throws { threads[threadID] = nil }

    /// Checks that no stored checkpoint differs from what was saved.
    /// - Throws: `GraphError` `.storage` naming the first checkpoint that changed.
    public func verifyIntegrity() throws(GraphError) {
        for (threadID, data) in threads {
            for (id, checkpoint) in data.checkpoints where checkpoint.hashValue != data.fingerprints[id] {
                throw GraphError(.storage, "checkpoint \(id) of thread '\(threadID)' changed after it was saved")
            }
        }
    }
}
