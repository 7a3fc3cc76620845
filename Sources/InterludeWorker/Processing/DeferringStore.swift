import Foundation
import Interlude
import Synchronization

/// The store one command of a batch runs against: it serves the thread as the batch loaded
/// it and keeps the command's commits instead of applying them, so the batch applies every
/// command's commits in one round trip afterwards.
///
/// The version a kept commit returns is the one it would get if it applies (the expected
/// version plus one); the batch applies the commits compared-and-set on the versions read,
/// so a commit that loses to another writer writes nothing and its command is processed again
/// on its own.
final class DeferringStore: Checkpointer {
    private let base: any WorkerStore
    private let threadID: String
    private let snapshot: ThreadSnapshot?
    private let kept = Mutex<[StepCommit]>([])

    /// - Parameters:
    ///   - snapshot: The thread at its head as loaded for the batch; `nil` for a new thread.
    init(base: any WorkerStore, threadID: String, snapshot: ThreadSnapshot?) {
        self.base = base
        self.threadID = threadID
        self.snapshot = snapshot
    }

    /// The commits the command made, in order.
    var commits: [StepCommit] { kept.withLock { $0 } }

    func load(thread threadID: String, checkpointID: CheckpointID?) async throws -> ThreadSnapshot? {
        if threadID == self.threadID, checkpointID == nil, kept.withLock({ $0.isEmpty }) { return snapshot }
        return try await base.load(thread: threadID, checkpointID: checkpointID)
    }

    func thread(_ threadID: String) async throws -> ThreadRecord? {
        if threadID == self.threadID, kept.withLock({ $0.isEmpty }) { return snapshot?.record }
        return try await base.thread(threadID)
    }

    func commit(_ commit: StepCommit) async throws -> Int64 {
        kept.withLock { $0.append(commit) }
        return commit.expectedVersion + 1
    }

    func checkpoint(thread threadID: String, id: CheckpointID?) async throws -> CheckpointTuple? {
        try await base.checkpoint(thread: threadID, id: id)
    }

    func history(thread threadID: String, query: HistoryQuery) async throws -> [CheckpointTuple] {
        try await base.history(thread: threadID, query: query)
    }

    func interrupts(thread threadID: String) async throws -> [InterruptRecord] {
        if threadID == self.threadID, kept.withLock({ $0.isEmpty }) { return snapshot?.interrupts ?? [] }
        return try await base.interrupts(thread: threadID)
    }

    func deleteThread(_ threadID: String) async throws {
        throw GraphError(.storage, "a batched command cannot delete thread '\(threadID)'")
    }
}
