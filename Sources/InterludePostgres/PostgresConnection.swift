import Foundation
import Logging
import Synchronization

/// One connection to PostgreSQL, with an async API over libpq.
///
/// Every connection owns a dedicated thread that makes its libpq calls, so awaiting a query
/// never blocks Swift's cooperative thread pool. Calls on one connection run one at a time,
/// in order. Use ``PostgresPool`` to share a few connections between many tasks.
///
/// Every call is bounded (see ``Timeouts``): the server cancels a statement past the statement
/// timeout, and a server that stops answering fails the call at the query deadline with a
/// retriable `PostgresError` `.timedOut` and breaks the connection. Cancelling the calling task
/// cancels its statement on the server and throws `CancellationError`; the connection stays
/// usable.
///
/// A new connection sets its session's `search_path`, `statement_timeout`, `jit` (off: the
/// library's short statements over arrays only paid for LLVM compilation) and
/// `enable_seqscan` (off: every statement of the library reads through an index, and generic
/// plans made while tables were empty kept scanning them as they grew); settings given in the
/// URL's `options` win.
public final class PostgresConnection: Sendable {
    private let thread: ConnectionThread
    private let logger: Logger

    private init(thread: ConnectionThread, logger: Logger) {
        self.thread = thread
        self.logger = logger
    }

    deinit { thread.stop() }

    /// Opens a connection.
    /// - Parameters:
    ///   - url: A libpq conninfo (`host=... dbname=...`) or `postgres://` URL, passed to libpq;
    ///     its own keywords win over `timeouts`.
    ///   - searchPath: Schemas to set as `search_path` after connecting. Default: `nil` (the server's default).
    ///   - logger: Receives server notices. Default: label `interlude.postgres`.
    ///   - timeouts: Connect timeout, TCP keepalives, statement timeout and query deadline.
    ///     Default: ``Timeouts/init(connect:statement:queryDeadline:keepalivesIdle:keepalivesInterval:keepalivesCount:)``'s defaults.
    ///   - roundTrips: Counts the connection's round trips (see ``PostgresRoundTrips``). Default: none.
    /// - Throws: `PostgresError` `.invalidConfiguration`, `.authenticationFailed` or `.connectionFailed`
    ///   (also when the server does not complete the connection within the connect timeout).
    public static func connect(
        url: String, searchPath: [String]? = nil, logger: Logger = Logger(label: "interlude.postgres"),
        timeouts: Timeouts = Timeouts(), roundTrips: PostgresRoundTrips? = nil
    ) async throws(PostgresError) -> PostgresConnection {
        let searchPathValue = try searchPath.map { names throws(PostgresError) in try PostgresIdentifier.searchPath(names) }
        let thread = ConnectionThread(name: "interlude-postgres")
        do {
            try await thread.run(cancellable: false) { context throws(PostgresError) in
                context.connection = try PQConnection(
                    conninfo: url, timeouts: timeouts, searchPath: searchPathValue, logger: logger, roundTrips: roundTrips)
            }
        } catch {
            thread.stop()
            throw error as? PostgresError ?? PostgresError(.connectionFailed, "could not open a connection", underlying: error)
        }
        return PostgresConnection(thread: thread, logger: logger)
    }

    /// `true` once the connection broke (or missed its query deadline); a pool discards such connections.
    public var isBroken: Bool { thread.isBroken }

    /// Runs a statement and returns its rows.
    /// - Throws: `PostgresError`: `.connectionLost` (retriable) when the connection broke,
    ///   `.timedOut` (retriable) at the statement timeout or query deadline. `CancellationError`
    ///   when the task is cancelled (the statement is cancelled on the server).
    @discardableResult
    public func query(_ statement: PostgresStatement, _ parameters: [PostgresValue] = []) async throws -> PostgresRows {
        try await withConnection { connection throws(PostgresError) in try connection.execute(statement, parameters) }
    }

    /// Runs several statements in one round trip (libpq pipeline mode) and returns each one's
    /// rows, in order. Meant for reads: the statements run in one implicit transaction that
    /// ends at the pipeline's sync point. The whole pipeline gets one query deadline.
    /// - Throws: Like ``query(_:_:)``.
    public func pipeline(_ statements: [(PostgresStatement, [PostgresValue])]) async throws -> [PostgresRows] {
        try await withConnection { connection throws(PostgresError) in try connection.executePipeline(statements) }
    }

    /// Runs several statements in one round trip, each in its own implicit transaction (a sync
    /// point after each), and returns each one's rows or error, in order: one statement failing
    /// does not undo or skip the others. Meant for independent writes, such as commits to
    /// different threads.
    /// - Throws: `PostgresError` when the pipeline itself failed (the connection broke).
    public func pipelineEach(_ statements: [(PostgresStatement, [PostgresValue])]) async throws -> [Result<PostgresRows, PostgresError>] {
        try await withConnection { connection throws(PostgresError) in try connection.executeEach(statements) }
    }

    /// Runs a statement and returns how many rows it inserted, updated or deleted.
    /// - Throws: Like ``query(_:_:)``.
    @discardableResult
    public func execute(_ statement: PostgresStatement, _ parameters: [PostgresValue] = []) async throws -> Int {
        try await query(statement, parameters).affectedRows
    }

    /// Runs `body` inside `BEGIN` ... `COMMIT`; rolls back when `body` throws.
    ///
    /// When the connection breaks mid-transaction, the server rolls the transaction back and
    /// this throws a retriable `PostgresError` `.connectionLost` (or `.timedOut`): nothing of it
    /// was written. The `ROLLBACK` after a failure runs even when the task was cancelled.
    /// - Parameter body: Runs the transaction's statements on this connection.
    @discardableResult
    public func withTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await script("BEGIN", name: "transaction.begin")
        let value: T
        do {
            value = try await body(self)
        } catch {
            if !isBroken {
                do {
                    try await script("ROLLBACK", name: "transaction.rollback", cancellable: false)
                } catch let rollbackError {
                    logger.warning("rollback failed: \(rollbackError)")
                }
            }
            throw error
        }
        try await script("COMMIT", name: "transaction.commit")
        return value
    }

    /// Closes the connection (after calls already queued finish).
    public func close() {
        thread.stop()
    }

    /// Runs SQL the library carries (transaction control, migrations) through the simple protocol.
    /// - Parameter cancellable: `false` for clean-up that must run in a cancelled task. Default: `true`.
    func script(_ sql: String, name: String, cancellable: Bool = true) async throws {
        try await withConnection(cancellable: cancellable) { connection throws(PostgresError) in
            try connection.executeScript(sql, name: name)
        }
    }

    /// `true` when the connection is open, idle and not closed by the server.
    func checkHealth() async -> Bool {
        guard !isBroken else { return false }
        let healthy = (try? await thread.run(cancellable: false) { context in context.connection?.isHealthy ?? false }) ?? false
        if !healthy { thread.markBroken() }
        return healthy
    }

    /// Runs `body` with the libpq connection on the connection's thread.
    /// - Parameter cancellable: Whether cancelling the task cancels the call. Default: `true`.
    func withConnection<T: Sendable>(
        cancellable: Bool = true, _ body: @escaping @Sendable (PQConnection) throws(PostgresError) -> T
    ) async throws -> T {
        try await thread.run(cancellable: cancellable) { context throws(PostgresError) -> T in
            guard let connection = context.connection, !connection.isBroken else {
                throw PostgresError(.connectionLost, "the connection was closed or discarded; use a new connection")
            }
            do throws(PostgresError) {
                return try body(connection)
            } catch {
                if connection.isLost { throw PostgresError.markBroken(error) }
                throw error
            }
        }
    }
}

extension PostgresError {
    /// Makes sure an error raised on a broken connection is reported as `.connectionLost`.
    static func markBroken(_ error: PostgresError) -> PostgresError {
        guard error.code != .connectionLost else { return error }
        var lost = error
        lost.code = .connectionLost
        return lost
    }
}

/// Validation and quoting for identifiers taken from configuration (schema names): the one
/// place where a name, never a value, is placed into SQL text.
enum PostgresIdentifier {
    /// Checks `name` against `^[a-z_][a-z0-9_]*$` (at most 63 characters).
    static func validate(_ name: String) throws(PostgresError) {
        let bytes = Array(name.utf8)
        let valid = !bytes.isEmpty && bytes.count <= 63
            && bytes.enumerated().allSatisfy { i, b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || b == UInt8(ascii: "_")
                    || (i > 0 && b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            }
        guard valid else {
            throw PostgresError(
                .invalidConfiguration,
                "'\(name)' is not a valid schema name: use lowercase letters, digits and underscores, starting with a letter or underscore (at most 63 characters)")
        }
    }

    /// The validated name in double quotes.
    static func quoted(_ name: String) throws(PostgresError) -> String {
        try validate(name)
        return "\"\(name)\""
    }

    /// A `search_path` value for validated schema names.
    static func searchPath(_ names: [String]) throws(PostgresError) -> String {
        var quotedNames: [String] = []
        for name in names { quotedNames.append(try quoted(name)) }
        return quotedNames.joined(separator: ", ")
    }
}
