import Foundation
import Interlude
import Logging

/// A ``Checkpointer`` that stores threads, checkpoints, channel values, pending writes and
/// interrupts in PostgreSQL, and beside them what a worker keeps: the command ledger, the
/// outbox and leases on deadlines and stalled commands.
///
/// It mirrors `InMemoryCheckpointer` exactly: a commit is one atomic statement that
/// compares-and-sets `threads.version` and writes nothing when the thread moved on
/// (`GraphError` `.threadVersionConflict`) or when a command of the commit is already final in
/// the ledger (`.duplicateCommand`). Other failures surface as `GraphError` `.storage` with the
/// ``PostgresError`` as `underlying` (retriable ones make the `GraphError` retriable).
///
/// ```swift
/// let checkpointer = try PostgresCheckpointer(configuration: .init(url: databaseURL))
/// try await checkpointer.migrate()
/// ```
public final class PostgresCheckpointer: Checkpointer {
    /// Checkpointer settings.
    public struct Configuration: Sendable {
        /// A libpq conninfo or `postgres://` URL, passed to libpq unchanged.
        public var url: String
        /// The schema holding the tables, `^[a-z_][a-z0-9_]*$`. Default: `interlude`.
        public var schema: String
        /// How many connections the checkpointer opens at most. Default: 4.
        public var poolSize: Int
        /// Rows deleted per statement by ``deleteThread(_:)`` and the sweeps. Default: 1000.
        public var deleteBatchSize: Int
        /// How long a call waits for a free pooled connection before a retriable
        /// `PostgresError` `.timedOut`. Default: 30 seconds.
        public var acquireTimeout: Duration
        /// Connect timeout, TCP keepalives, statement timeout and query deadline of every
        /// connection. Default: ``PostgresConnection/Timeouts``' defaults (connect 10 s,
        /// statement 30 s, query deadline 35 s, keepalives after 30 s idle, every 10 s, 3 probes).
        public var timeouts: PostgresConnection.Timeouts

        /// Creates settings; see each property for its default.
        public init(
            url: String, schema: String = "interlude", poolSize: Int = 4, deleteBatchSize: Int = 1000,
            acquireTimeout: Duration = .seconds(30), timeouts: PostgresConnection.Timeouts = .init()
        ) {
            self.url = url
            self.schema = schema
            self.poolSize = poolSize
            self.deleteBatchSize = deleteBatchSize
            self.acquireTimeout = acquireTimeout
            self.timeouts = timeouts
        }
    }

    /// The settings.
    public let configuration: Configuration
    /// The connections; usable for the caller's own statements in the same schema.
    public let pool: PostgresPool
    private let migrations: PostgresMigrations
    let logger: Logger

    /// Creates a checkpointer; connections open on first use.
    /// - Parameters:
    ///   - configuration: The settings.
    ///   - logger: Default: label `interlude.postgres`.
    ///   - clock: Times reconnect backoff. Default: `ContinuousClock()`.
    /// - Throws: `PostgresError` `.invalidConfiguration` for an invalid schema name.
    public init(
        configuration: Configuration, logger: Logger = Logger(label: "interlude.postgres"),
        clock: any Clock<Duration> = ContinuousClock()
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.migrations = try PostgresMigrations(schema: configuration.schema, logger: logger)
        self.pool = PostgresPool(
            configuration: .init(
                url: configuration.url, size: configuration.poolSize, searchPath: [configuration.schema],
                acquireTimeout: configuration.acquireTimeout, timeouts: configuration.timeouts),
            logger: logger, clock: clock)
    }

    /// Creates or upgrades the tables; safe to call from many processes at once.
    /// - Returns: The migration versions applied (empty when the schema was current).
    /// - Throws: `PostgresError` `.schemaTooNew`, `.migrationFailed` or a connection error.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await migrations.migrate(on: pool)
    }

    /// Checks that the schema exists and is at the version this build needs.
    /// - Throws: `PostgresError` `.schemaMissing`, `.schemaOutdated` or `.schemaTooNew`.
    public func verifySchema() async throws {
        try await migrations.verify(on: pool)
    }

    /// Closes the connections.
    public func close() { pool.close() }

    // MARK: Reads

    public func thread(_ threadID: String) async throws -> ThreadRecord? {
        try await storage("read thread '\(threadID)'") {
            let rows = try await pool.query(Statements.thread, [.text(threadID)])
            return try rows.first.map { try Self.decodeThread(threadID, $0) }
        }
    }

    public func checkpoint(thread threadID: String, id: CheckpointID?) async throws -> CheckpointTuple? {
        try await storage("load a checkpoint of thread '\(threadID)'") {
            let ids: [PostgresValue] = [.text(threadID), Self.checkpointOrHead(id)]
            let results = try await pool.withConnection { connection in
                try await connection.pipeline([(Statements.checkpoint, [.text(threadID), .uuid(id)]), (Statements.blobs, ids), (Statements.writes, ids)])
            }
            guard let row = results[0].first else { return nil }
            return try Self.tuple(try Self.decodeCheckpoint(row), blobRows: results[1], writeRows: results[2])
        }
    }

    public func history(thread threadID: String, query: HistoryQuery) async throws -> [CheckpointTuple] {
        try await storage("read the history of thread '\(threadID)'") {
            try await pool.withConnection { connection in
                let rows = try await connection.query(
                    Statements.history,
                    [.text(threadID), .uuid(query.before), .jsonb(JSONValue.object(query.filter)), .int(query.limit)])
                let checkpoints = try rows.map(Self.decodeCheckpoint)
                return try await tuples(checkpoints, thread: threadID, on: connection)
            }
        }
    }

    /// Loads the blobs (with delta chains) and pending writes of some checkpoints of a thread.
    private func tuples(_ checkpoints: [Checkpoint], thread threadID: String, on connection: PostgresConnection) async throws -> [CheckpointTuple] {
        guard !checkpoints.isEmpty else { return [] }
        let ids = PostgresValue.uuidArray(checkpoints.map(\.id))
        var blobs: [BlobKey: ChannelBlob] = [:]
        for row in try await connection.query(Statements.blobs, [.text(threadID), ids]) {
            let blob = try Self.decodeBlob(row)
            blobs[BlobKey(channel: blob.channel, version: blob.version)] = blob
        }
        var writes: [CheckpointID: [PendingWrite]] = [:]
        for row in try await connection.query(Statements.writes, [.text(threadID), ids]) {
            let checkpointID: CheckpointID = try row.decode(at: 0)
            writes[checkpointID, default: []].append(try Self.decodeWrite(row))
        }
        return checkpoints.map { checkpoint in
            CheckpointTuple(checkpoint: checkpoint, blobs: Self.chain(of: checkpoint, in: blobs), pendingWrites: writes[checkpoint.id] ?? [])
        }
    }

    public func interrupts(thread threadID: String) async throws -> [InterruptRecord] {
        try await storage("read the interrupts of thread '\(threadID)'") {
            try await pool.query(Statements.interrupts, [.text(threadID)]).map(Self.decodeInterrupt)
        }
    }

    /// The ledger entry of a command id.
    public func command(_ commandID: String) async throws -> CommandRecord? {
        try await storage("read command '\(commandID)'") {
            try await pool.query(Statements.command, [.text(commandID)]).first.map(Self.decodeCommand)
        }
    }

    /// Columns: command_id, thread_id, kind, status, outcome, attempts.
    static func decodeCommand(_ row: PostgresRow) throws -> CommandRecord {
        CommandRecord(
            commandID: try row.decode(at: 0), threadID: try row.decode(at: 1), kind: try row.decode(at: 2),
            status: try decodeEnum(CommandStatus.self, row, 3), outcome: try row.decode(at: 4), attempts: try row.decode(at: 5))
    }

    /// Outbox messages not yet marked published, oldest first.
    public func unpublishedOutbox(limit: Int) async throws -> [OutboxMessage] {
        try await storage("read the outbox") {
            try await pool.query(Statements.unpublishedOutbox, [.int(limit)]).map { row in
                OutboxMessage(
                    id: try row.decode(at: 0), topic: try row.decode(at: 1), key: try row.decode(at: 2),
                    payload: try row.decode(at: 3),
                    headers: try Self.decodeJSON([String: String].self, row, 4))
            }
        }
    }

    /// Marks outbox messages published (one statement).
    public func markPublished(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await storage("mark outbox messages published") {
            try await pool.execute(Statements.markPublished, [.textArray(ids)])
        }
    }

    // MARK: Deletes and retention

    public func deleteThread(_ threadID: String) async throws {
        try await storage("delete thread '\(threadID)'") {
            try await pool.withConnection { connection in
                // The thread row first: from then on the thread reads as absent.
                try await connection.execute(Statements.deleteThreadRow, [.text(threadID)])
                let batch = configuration.deleteBatchSize
                for statement in [Statements.deleteWrites, Statements.deleteBlobs, Statements.deleteInterrupts, Statements.deleteCheckpoints] {
                    while try await connection.execute(statement, [.text(threadID), .int(batch)]) >= batch {}
                }
            }
        }
    }

    /// Deletes up to `batchSize` completed or failed threads last written before `date`, with
    /// everything they stored except their command-ledger rows (kept for idempotency).
    /// - Returns: How many threads were deleted; call again while it equals `batchSize`.
    @discardableResult
    public func sweepFinishedThreads(olderThan date: Date, batchSize: Int = 100) async throws -> Int {
        let ids = try await storage("find finished threads") {
            try await pool.query(Statements.finishedThreads, [.double(date.timeIntervalSince1970), .int(batchSize)])
                .map { try $0.decode(String.self, at: 0) }
        }
        for id in ids { try await deleteThread(id) }
        return ids.count
    }

    /// Deletes up to `batchSize` outbox messages published before `date`.
    /// - Returns: How many were deleted; call again while it equals `batchSize`.
    @discardableResult
    public func sweepPublishedOutbox(olderThan date: Date, batchSize: Int = 1000) async throws -> Int {
        try await storage("sweep the outbox") {
            try await pool.execute(Statements.sweepOutbox, [.timestamptz(date), .int(batchSize)])
        }
    }

    /// Runs `body`, reporting failures as `GraphError` `.storage` with the cause underneath.
    @discardableResult
    func storage<T: Sendable>(_ what: @autoclosure () -> String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as GraphError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch let error as PostgresError {
            if let taken = Self.commandIDTaken(error) { throw taken }
            throw GraphError(.storage, "PostgreSQL could not \(what()): \(error.message)", underlying: error)
        } catch {
            throw GraphError(.storage, "could not \(what()): \(error)", underlying: error)
        }
    }

    /// The refusal of a ledger write under an id another thread's or kind's command holds
    /// (raised by `interlude_command_id_taken`, migration 0005) as the conflict it is:
    /// `.duplicateCommand`, so the caller re-reads the ledger and finds whose id it is.
    static func commandIDTaken(_ error: PostgresError) -> GraphError? {
        guard error.sqlState == .uniqueViolation, error.constraint == "command_ledger_pkey" else { return nil }
        return GraphError(.duplicateCommand, error.message, underlying: error)
    }
}
