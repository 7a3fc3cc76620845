import Foundation
import Interlude
import InterludePostgres

/// Where a worker keeps graph state and its own bookkeeping: a ``Checkpointer`` plus the
/// command ledger, the outbox and leases on deadlines and stalled commands.
///
/// A graph-state store implements only `Checkpointer`; a worker needs this refinement.
/// `PostgresCheckpointer` implements it for deployments, `InMemoryCheckpointer` for
/// in-process tests. Every commit a worker makes carries its ledger entry and outbox rows as
/// ``StepCommit/extras``, so the store applies them in the same transaction as the step.
public protocol WorkerStore: Checkpointer {
    /// The ledger entry of a command id, if any.
    func command(_ commandID: String) async throws -> CommandRecord?

    /// Writes a command's final ledger entry and its outbox rows atomically, touching no thread.
    /// - Returns: `false` when the entry was already final (nothing written).
    /// - Throws: `GraphError` `.duplicateCommand` when the id is held by an entry of another
    ///   thread or kind (nothing written).
    func finishCommand(_ record: CommandRecord, outbox: [OutboxMessage]) async throws -> Bool

    /// For each (command, thread), the ledger entry and the thread snapshot at its head, in as
    /// few round trips as the store can.
    func loadCommands(_ requests: [(commandID: String, threadID: String)]) async throws -> [(CommandRecord?, ThreadSnapshot?)]

    /// Applies commits (to different threads, or in order to one) independently of each other.
    /// - Returns: Per commit, the new version or the error ``Checkpointer/commit(_:)`` would throw.
    func commitBatch(_ commits: [StepCommit]) async throws -> [Result<Int64, any Error>]

    /// Outbox messages not yet marked published, oldest first.
    func unpublishedOutbox(limit: Int) async throws -> [OutboxMessage]

    /// Marks outbox messages published.
    func markPublished(_ ids: [String]) async throws

    /// Claims pending interrupts due at `date` that no other worker holds, leased until `leaseUntil`.
    func claimDueInterrupts(at date: Date, leaseUntil: Date, limit: Int) async throws -> [InterruptRecord]

    /// A claimed deadline failed to fire at `date`; it is claimable again after a backoff of
    /// 2^attempts seconds (at most 60).
    /// - Returns: The failed attempts so far.
    func deferInterrupt(thread threadID: String, id: String, after date: Date) async throws -> Int

    /// Claims commands left `started` for longer than `stalledFor` that no other worker holds.
    func claimStalledCommands(stalledFor: Duration, leaseFor: Duration, limit: Int) async throws -> [CommandRecord]

    /// Readies the store for a worker's first commands (connections opened, the statements
    /// every command runs prepared and planned), so they are not slower than the rest.
    func warm() async throws
    /// Round trips to the store's server so far (reported as
    /// `interlude_postgres_round_trips_total`), or `nil` for a store without one.
    var roundTrips: Int? { get }
}

extension WorkerStore {
    /// `nil`: an in-process store makes no round trips.
    public var roundTrips: Int? { nil }
    /// Nothing to ready for an in-process store.
    public func warm() async throws {}

    /// Loads one call at a time; stores that can pipeline override this.
    public func loadCommands(_ requests: [(commandID: String, threadID: String)]) async throws -> [(CommandRecord?, ThreadSnapshot?)] {
        var result: [(CommandRecord?, ThreadSnapshot?)] = []
        for request in requests {
            result.append((try await command(request.commandID), try await load(thread: request.threadID, checkpointID: nil)))
        }
        return result
    }

    /// Commits one at a time; stores that can pipeline override this.
    public func commitBatch(_ commits: [StepCommit]) async throws -> [Result<Int64, any Error>] {
        var result: [Result<Int64, any Error>] = []
        for commit in commits {
            do { result.append(.success(try await self.commit(commit))) } catch { result.append(.failure(error)) }
        }
        return result
    }
}

extension PostgresCheckpointer: WorkerStore {
    /// Round trips of every connection of ``PostgresCheckpointer/pool``.
    public var roundTrips: Int? { pool.roundTrips.total }
}

extension InMemoryCheckpointer: WorkerStore {}
