import Foundation
import Interlude

/// One thread as `interlude threads` lists it.
public struct ThreadSummary: Sendable, Equatable {
    /// The thread id.
    public var threadID: String
    /// The graph's name and version.
    public var graph: GraphIdentity
    /// Where the thread stands.
    public var status: ThreadStatus
    /// Why it failed, when it did.
    public var failureReason: String?
    /// Interrupts waiting for an answer.
    public var pendingInterrupts: Int
    /// When it was created.
    public var createdAt: Date
    /// When it was last written.
    public var updatedAt: Date
}

/// What a worker's metrics and readiness read from the store.
public struct StoreGauges: Sendable, Equatable {
    /// Outbox messages committed but not yet marked published.
    public var outboxPending: Int
    /// Interrupts waiting for an answer.
    public var interruptsPending: Int
}

/// How many rows a retention sweep removes (or, in a dry run, would remove).
public struct RetentionCounts: Sendable, Equatable {
    /// Completed or failed threads last written before the cut-off (with their checkpoints,
    /// blobs, writes and interrupts).
    public var threads: Int
    /// Outbox messages published before the cut-off.
    public var outbox: Int
    /// Final command-ledger entries last written before the cut-off.
    public var ledger: Int
}

/// Reads and sweeps for operators: listing threads, gauges for metrics, readiness, retention.
extension PostgresCheckpointer {
    /// Runs a trivial statement: fails when PostgreSQL cannot be reached.
    public func ping() async throws {
        try await storage("answer a ping") { _ = try await pool.query(OperationStatements.ping) }
    }

    /// Outbox messages not yet published and interrupts pending, in one statement.
    public func gauges() async throws -> StoreGauges {
        try await storage("count pending outbox messages and interrupts") {
            let row = try await pool.query(OperationStatements.gauges).first
            return StoreGauges(outboxPending: try row?.decode(Int.self, at: 0) ?? 0, interruptsPending: try row?.decode(Int.self, at: 1) ?? 0)
        }
    }

    /// Threads, most recently written first.
    /// - Parameters:
    ///   - status: Only threads with this status. Default: any.
    ///   - graph: Only threads of this graph. Default: any.
    ///   - limit: At most this many. Default: 50.
    public func threads(status: ThreadStatus? = nil, graph: String? = nil, limit: Int = 50) async throws -> [ThreadSummary] {
        try await storage("list threads") {
            try await pool.query(OperationStatements.threads, [.text(status?.rawValue), .text(graph), .int(limit)]).map { row in
                ThreadSummary(
                    threadID: try row.decode(at: 0), graph: GraphIdentity(name: try row.decode(at: 1), version: try row.decode(at: 2)),
                    status: try Self.decodeEnum(ThreadStatus.self, row, 3), failureReason: try row.decode(at: 4),
                    pendingInterrupts: try row.decode(at: 5), createdAt: Date(timeIntervalSince1970: try row.decode(at: 6)),
                    updatedAt: Date(timeIntervalSince1970: try row.decode(at: 7)))
            }
        }
    }

    /// What ``sweepRetention(olderThan:)`` would delete for the cut-off `date`.
    public func retentionCounts(olderThan date: Date) async throws -> RetentionCounts {
        try await storage("count rows older than the retention cut-off") {
            let row = try await pool.query(OperationStatements.retentionCounts, [.double(date.timeIntervalSince1970), .timestamptz(date)]).first
            return RetentionCounts(
                threads: try row?.decode(Int.self, at: 0) ?? 0, outbox: try row?.decode(Int.self, at: 1) ?? 0,
                ledger: try row?.decode(Int.self, at: 2) ?? 0)
        }
    }

    /// Deletes up to `batchSize` final command-ledger entries (applied, rejected, parked,
    /// dead-lettered) last written before `date`. Entries of commands still `started` are kept.
    ///
    /// A command whose entry is gone is no longer recognised as a duplicate: keep entries at
    /// least as long as the command topics keep their messages.
    /// - Returns: How many were deleted; call again while it equals `batchSize`.
    @discardableResult
    public func sweepCommandLedger(olderThan date: Date, batchSize: Int = 1000) async throws -> Int {
        try await storage("sweep the command ledger") {
            try await pool.execute(OperationStatements.sweepLedger, [.timestamptz(date), .int(batchSize)])
        }
    }

    /// Deletes everything older than `date` that retention covers: finished threads (through
    /// ``sweepFinishedThreads(olderThan:batchSize:)``), published outbox messages (through
    /// ``sweepPublishedOutbox(olderThan:batchSize:)``) and final ledger entries (through
    /// ``sweepCommandLedger(olderThan:batchSize:)``), each in batches until none is left.
    /// - Returns: How many of each were deleted.
    @discardableResult
    public func sweepRetention(olderThan date: Date) async throws -> RetentionCounts {
        var counts = RetentionCounts(threads: 0, outbox: 0, ledger: 0)
        let batch = configuration.deleteBatchSize
        while true {
            let n = try await sweepFinishedThreads(olderThan: date, batchSize: 100)
            counts.threads += n
            if n < 100 { break }
        }
        while true {
            let n = try await sweepPublishedOutbox(olderThan: date, batchSize: batch)
            counts.outbox += n
            if n < batch { break }
        }
        while true {
            let n = try await sweepCommandLedger(olderThan: date, batchSize: batch)
            counts.ledger += n
            if n < batch { break }
        }
        return counts
    }
}

/// The operator statements' SQL; parameters only.
enum OperationStatements {
    static let ping = PostgresStatement("operations.ping", sql: "SELECT 1")

    static let gauges = PostgresStatement(
        "operations.gauges",
        sql: """
            SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL)::int8,
                   (SELECT count(*) FROM interrupts WHERE status = 'pending')::int8
            """)

    static let threads = PostgresStatement(
        "operations.threads",
        sql: """
            SELECT t.thread_id, t.graph_name, t.graph_version, t.status, t.failure_reason,
                   (SELECT count(*) FROM interrupts i WHERE i.thread_id = t.thread_id AND i.status = 'pending')::int8,
                   t.created_at, t.updated_at
            FROM threads t
            WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.graph_name = $2)
            ORDER BY t.updated_at DESC, t.thread_id
            LIMIT $3
            """)

    static let retentionCounts = PostgresStatement(
        "operations.retention_counts",
        sql: """
            SELECT (SELECT count(*) FROM threads WHERE status IN ('completed', 'failed') AND updated_at < $1)::int8,
                   (SELECT count(*) FROM outbox WHERE published_at < $2)::int8,
                   (SELECT count(*) FROM command_ledger WHERE status <> 'started' AND updated_at < $2)::int8
            """)

    static let sweepLedger = PostgresStatement(
        "operations.sweep_ledger",
        sql: """
            DELETE FROM command_ledger WHERE command_id = ANY(ARRAY(
                SELECT command_id FROM command_ledger
                WHERE status <> 'started' AND updated_at < $1
                ORDER BY updated_at LIMIT $2))
            """)
}
