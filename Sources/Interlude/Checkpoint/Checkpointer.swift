import Foundation

/// Durable storage for threads, checkpoints and the rows a worker keeps beside them.
///
/// The runtime calls ``commit(_:)`` once per superstep (or once per invocation with exit
/// durability) with everything the step produced. Implementations must apply a commit
/// atomically and compare-and-set the thread version: when `expectedVersion` differs from the
/// stored version, throw `GraphError` with code `.threadVersionConflict` and write nothing.
/// `InMemoryCheckpointer` is the reference; `PostgresCheckpointer` passes the same suite.
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

    /// Every interrupt the thread has raised, oldest first.
    func interrupts(thread threadID: String) async throws -> [InterruptRecord]

    /// Pending interrupts whose deadline is at or before `date`, oldest deadline first,
    /// across all threads: what the timer sweep fires.
    func dueInterrupts(at date: Date, limit: Int) async throws -> [InterruptRecord]

    /// Commits rows that touch no thread state (a refused command's ledger entry and its
    /// `rejected` event) atomically.
    /// - Throws: `GraphError` `.duplicateCommand` when a command id is already in the ledger.
    func record(_ extras: CommitExtras) async throws

    /// The ledger entry for a command id, if that command was already applied or refused.
    func command(_ commandID: String) async throws -> CommandRecord?

    /// Outbox messages not yet marked published, oldest first.
    func unpublishedOutbox(limit: Int) async throws -> [OutboxMessage]

    /// Marks outbox messages published.
    func markPublished(_ ids: [String]) async throws

    /// Deletes a thread with all its checkpoints, blobs, writes and interrupts.
    func deleteThread(_ threadID: String) async throws
}
