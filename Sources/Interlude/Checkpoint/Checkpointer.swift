import Foundation

/// Durable storage for threads and their checkpoints: what a graph needs, nothing more.
///
/// The runtime calls ``commit(_:)`` once per superstep (or once per invocation with exit
/// durability) with everything the step produced. Implementations must apply a commit
/// atomically and compare-and-set the thread version: when `expectedVersion` differs from the
/// stored version, throw `GraphError` with code `.threadVersionConflict` and write nothing.
/// `InMemoryCheckpointer` is the reference; `PostgresCheckpointer` passes the same suite.
///
/// A worker keeps more beside graph state (the command ledger, the outbox, leases on
/// deadlines): that is `InterludeWorker`'s `WorkerStore`, which refines this protocol. A store
/// used only to run graphs never receives ``StepCommit/extras`` (only a worker's commit hook
/// attaches them), so it may refuse a commit that carries any.
public protocol Checkpointer: Sendable {
    /// The thread's head record, or `nil` when the thread does not exist.
    func thread(_ threadID: String) async throws -> ThreadRecord?

    /// A checkpoint with its blobs and pending writes; `id == nil` loads the head.
    /// Returns `nil` when the thread or that checkpoint does not exist.
    func checkpoint(thread threadID: String, id: CheckpointID?) async throws -> CheckpointTuple?

    /// Checkpoints of the thread, newest id first, that match the query.
    func history(thread threadID: String, query: HistoryQuery) async throws -> [CheckpointTuple]

    /// Applies a commit atomically and returns the thread's new version (`expectedVersion + 1`).
    /// - Throws: `GraphError` `.threadVersionConflict` when the thread moved on.
    func commit(_ commit: StepCommit) async throws -> Int64

    /// What a run needs to start on a thread: its record, the checkpoint (`nil`: the head)
    /// and its interrupts, in as few round trips as the backend can. `nil` when the thread
    /// does not exist. The default implementation calls ``thread(_:)``,
    /// ``checkpoint(thread:id:)`` and ``interrupts(thread:)``.
    func load(thread threadID: String, checkpointID: CheckpointID?) async throws -> ThreadSnapshot?

    /// Every interrupt the thread has raised, oldest first.
    func interrupts(thread threadID: String) async throws -> [InterruptRecord]

    /// Deletes a thread with all its checkpoints, blobs, writes and interrupts.
    func deleteThread(_ threadID: String) async throws
}

/// A thread as a run starts from it: see ``Checkpointer/load(thread:checkpointID:)``.
public struct ThreadSnapshot: Sendable {
    /// The thread's record.
    public var record: ThreadRecord
    /// The requested checkpoint (or the head); `nil` when there is no such checkpoint.
    public var tuple: CheckpointTuple?
    /// Every interrupt the thread has raised, oldest first.
    public var interrupts: [InterruptRecord]

    /// Creates a snapshot.
    public init(record: ThreadRecord, tuple: CheckpointTuple?, interrupts: [InterruptRecord]) {
        self.record = record
        self.tuple = tuple
        self.interrupts = interrupts
    }
}

extension Checkpointer {
    /// Loads with three calls; backends that can do it in one round trip override this.
    public func load(thread threadID: String, checkpointID: CheckpointID?) async throws -> ThreadSnapshot? {
        guard let record = try await thread(threadID) else { return nil }
        let tuple = record.head == nil && checkpointID == nil ? nil : try await checkpoint(thread: threadID, id: checkpointID)
        return ThreadSnapshot(record: record, tuple: tuple, interrupts: try await interrupts(thread: threadID))
    }
}
