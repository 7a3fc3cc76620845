import Foundation
import Interlude

/// A pending interrupt with the graph of its thread: one row of the review console's list.
public struct PendingReview: Sendable, Equatable {
    /// The interrupt as the interrupt table records it.
    public var interrupt: InterruptRecord
    /// The graph that last wrote the thread.
    public var graph: GraphIdentity
}

/// Which pending interrupts ``PostgresCheckpointer/pendingReviews(_:)`` returns.
public struct PendingReviewQuery: Sendable, Equatable {
    /// Only threads of this graph. Default: every graph.
    public var graph: String?
    /// Only interrupts raised at or before this time (at least this old). Default: no bound.
    public var raisedBefore: Date?
    /// Only interrupts raised at or after this time (at most this old). Default: no bound.
    public var raisedAfter: Date?
    /// At most this many, oldest first. Default: 200.
    public var limit: Int

    /// Creates a query; see each property for its default.
    public init(graph: String? = nil, raisedBefore: Date? = nil, raisedAfter: Date? = nil, limit: Int = 200) {
        self.graph = graph
        self.raisedBefore = raisedBefore
        self.raisedAfter = raisedAfter
        self.limit = limit
    }
}

/// One message of the outbox, as the review console follows a thread with it.
public struct OutboxRecord: Sendable, Equatable {
    /// The outbox position: increases with every message committed.
    public var seq: Int64
    /// The destination topic.
    public var topic: String
    /// The JSON message.
    public var payload: Data
}

/// Reads for the review console: pending interrupts across threads and a thread's events from
/// the outbox. Every statement takes its values as parameters.
extension PostgresCheckpointer {
    /// Pending interrupts across threads, oldest first.
    /// - Throws: `GraphError` `.storage` when PostgreSQL fails.
    public func pendingReviews(_ query: PendingReviewQuery) async throws -> [PendingReview] {
        try await storage("list the pending interrupts") {
            let parameters: [PostgresValue] = [
                .text(query.graph), .double(query.raisedBefore?.timeIntervalSince1970),
                .double(query.raisedAfter?.timeIntervalSince1970), .int(max(0, query.limit)),
            ]
            return try await pool.query(ConsoleStatements.pendingReviews, parameters).map { row in
                PendingReview(
                    interrupt: try Self.decodeInterrupt(row),
                    graph: GraphIdentity(name: try row.decode(at: 14), version: try row.decode(at: 15)))
            }
        }
    }

    /// The names of the graphs that have pending interrupts, sorted.
    /// - Throws: `GraphError` `.storage` when PostgreSQL fails.
    public func pendingReviewGraphs() async throws -> [String] {
        try await storage("list the graphs with pending interrupts") {
            try await pool.query(ConsoleStatements.pendingGraphs).map { try $0.decode(String.self, at: 0) }
        }
    }

    /// The newest outbox position (0 when the outbox is empty): messages committed later have
    /// a greater `seq`.
    /// - Throws: `GraphError` `.storage` when PostgreSQL fails.
    public func outboxPosition() async throws -> Int64 {
        try await storage("read the outbox position") {
            try await pool.query(ConsoleStatements.outboxPosition).first?.decode(Int64.self, at: 0) ?? 0
        }
    }

    /// The outbox messages of one thread committed after position `after`, in commit order.
    /// Published messages stay until the retention sweep deletes them.
    /// - Throws: `GraphError` `.storage` when PostgreSQL fails.
    public func outboxRecords(thread threadID: String, after: Int64, limit: Int = 100) async throws -> [OutboxRecord] {
        try await storage("read the outbox of thread '\(threadID)'") {
            try await pool.query(ConsoleStatements.threadOutbox, [.text(threadID), .int64(after), .int(limit)]).map { row in
                OutboxRecord(seq: try row.decode(at: 0), topic: try row.decode(at: 1), payload: try row.decode(at: 2))
            }
        }
    }
}

enum ConsoleStatements {
    /// `$1` graph or NULL, `$2` raised at or before (seconds) or NULL, `$3` raised at or after
    /// or NULL, `$4` limit. Columns as `decodeInterrupt`, then graph_name, graph_version.
    static let pendingReviews = PostgresStatement(
        "console.pending_reviews",
        sql: """
            SELECT i.thread_id, i.interrupt_id, i.checkpoint_id, i.task_id, i.node, i.value, i.status, i.deadline,
                   i.on_timeout, i.created_at, i.resolved_at, i.resolved_by, i.namespace, i.approvers,
                   t.graph_name, t.graph_version
            FROM interrupts i JOIN threads t ON t.thread_id = i.thread_id
            WHERE i.status = 'pending'
              AND ($1::text IS NULL OR t.graph_name = $1::text)
              AND ($2::double precision IS NULL OR i.created_at <= $2::double precision)
              AND ($3::double precision IS NULL OR i.created_at >= $3::double precision)
            ORDER BY i.created_at, i.seq
            LIMIT $4
            """)

    static let pendingGraphs = PostgresStatement(
        "console.pending_graphs",
        sql: """
            SELECT DISTINCT t.graph_name FROM interrupts i JOIN threads t ON t.thread_id = i.thread_id
            WHERE i.status = 'pending' ORDER BY 1
            """)

    static let outboxPosition = PostgresStatement("console.outbox_position", sql: "SELECT coalesce(max(seq), 0)::bigint FROM outbox")

    /// Walks the primary key from `$2`, so following a thread from a recent position stays cheap.
    static let threadOutbox = PostgresStatement(
        "console.thread_outbox",
        sql: "SELECT seq, topic, payload FROM outbox WHERE seq > $2 AND key = $1 ORDER BY seq LIMIT $3")
}
