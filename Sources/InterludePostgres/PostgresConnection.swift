import Foundation
import Logging
import Synchronization

/// One connection to PostgreSQL, with an async API over libpq's blocking calls.
///
/// Every connection owns a dedicated thread that makes its libpq calls, so awaiting a query
/// never blocks Swift's cooperative thread pool. Calls on one connection run one at a time,
/// in order. Use ``PostgresPool`` to share a few connections between many tasks.
public final class PostgresConnection: Sendable {
    private let thread: ConnectionThread
    private let broken = Atomic<Bool>(false)
    private let logger: Logger

    private init(thread: ConnectionThread, logger: Logger) {
        self.thread = thread
        self.logger = logger
    }

    deinit { thread.stop() }

    /// Opens a connection.
    /// - Parameters:
    ///   - url: A libpq conninfo (`host=... dbname=...`) or `postgres://` URL, passed to libpq unchanged.
    ///   - searchPath: Schemas to set as `search_path` after connecting. Default: `nil` (the server's default).
    ///   - logger: Receives server notices. Default: label `interlude.postgres`.
    /// - Throws: `PostgresError` `.invalidConfiguration`, `.authenticationFailed` or `.connectionFailed`.
    public static func connect(
        url: String, searchPath: [String]? = nil, logger: Logger = Logger(label: "interlude.postgres")
    ) async throws(PostgresError) -> PostgresConnection {
        let thread = ConnectionThread(name: "interlude-postgres")
        do {
            try await thread.run { context throws(PostgresError) in
                context.connection = try PQConnection(conninfo: url, logger: logger)
            }
        } catch {
            thread.stop()
            throw error
        }
        let connection = PostgresConnection(thread: thread, logger: logger)
        if let searchPath {
            let value = try PostgresIdentifier.searchPath(searchPath)
            try await connection.query(Self.setSearchPath, [.text(value)])
        }
        return connection
    }

    private static let setSearchPath = PostgresStatement(
        "connection.set_search_path", sql: "SELECT set_config('search_path', $1, false)")

    /// `true` once the connection broke; a pool discards such connections.
    public var isBroken: Bool { broken.load(ordering: .relaxed) }

    /// Runs a statement and returns its rows.
    /// - Throws: `PostgresError`; `.connectionLost` (retriable) when the connection broke.
    @discardableResult
    public func query(_ statement: PostgresStatement, _ parameters: [PostgresValue] = []) async throws(PostgresError) -> PostgresRows {
        try await withConnection { connection throws(PostgresError) in try connection.execute(statement, parameters) }
    }

    /// Runs several statements in one round trip (libpq pipeline mode) and returns each one's
    /// rows, in order. Meant for reads: the statements run in one implicit transaction that
    /// ends at the pipeline's sync point.
    public func pipeline(_ statements: [(PostgresStatement, [PostgresValue])]) async throws(PostgresError) -> [PostgresRows] {
        try await withConnection { connection throws(PostgresError) in try connection.executePipeline(statements) }
    }

    /// Runs several statements in one round trip, each in its own implicit transaction (a sync
    /// point after each), and returns each one's rows or error, in order: one statement failing
    /// does not undo or skip the others. Meant for independent writes, such as commits to
    /// different threads.
    /// - Throws: `PostgresError` when the pipeline itself failed (the connection broke).
    public func pipelineEach(_ statements: [(PostgresStatement, [PostgresValue])]) async throws(PostgresError) -> [Result<PostgresRows, PostgresError>] {
        try await withConnection { connection throws(PostgresError) in try connection.executeEach(statements) }
    }

    /// Runs a statement and returns how many rows it inserted, updated or deleted.
    /// - Throws: `PostgresError`; `.connectionLost` (retriable) when the connection broke.
    @discardableResult
    public func execute(_ statement: PostgresStatement, _ parameters: [PostgresValue] = []) async throws(PostgresError) -> Int {
        try await query(statement, parameters).affectedRows
    }

    /// Runs `body` inside `BEGIN` ... `COMMIT`; rolls back when `body` throws.
    ///
    /// When the connection breaks mid-transaction, the server rolls the transaction back and
    /// this throws a retriable `PostgresError` `.connectionLost`: nothing of it was written.
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
                    try await script("ROLLBACK", name: "transaction.rollback")
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
        broken.store(true, ordering: .relaxed)
        thread.stop()
    }

    /// Runs SQL the library carries (transaction control, migrations) through the simple protocol.
    func script(_ sql: String, name: String) async throws(PostgresError) {
        try await withConnection { connection throws(PostgresError) in try connection.executeScript(sql, name: name) }
    }

    /// `true` when the connection is open, idle and not closed by the server.
    func checkHealth() async -> Bool {
        guard !isBroken else { return false }
        let healthy = (try? await thread.run { context in context.connection?.isHealthy ?? false }) ?? false
        if !healthy { broken.store(true, ordering: .relaxed) }
        return healthy
    }

    /// Runs `body` with the libpq connection on the connection's thread.
    func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PQConnection) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        do throws(PostgresError) {
            return try await thread.run { context throws(PostgresError) -> T in
                guard let connection = context.connection else {
                    throw PostgresError(.connectionLost, "the connection was closed")
                }
                do throws(PostgresError) {
                    return try body(connection)
                } catch {
                    if connection.isBroken { throw PostgresError.markBroken(error) }
                    throw error
                }
            }
        } catch {
            if error.code == .connectionLost { broken.store(true, ordering: .relaxed) }
            throw error
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
