internal import CLibPQ
import Foundation
import Logging

/// Owns one libpq connection (`PGconn`) and frees it in `deinit`.
///
/// Not thread-safe, like `PGconn` itself: a `PQConnection` is created, used and released on
/// its ``ConnectionThread`` only. All calls block; that is why they never run on Swift's
/// cooperative thread pool.
final class PQConnection {
    let handle: OpaquePointer
    private let notices: NoticeSink
    /// Prepared statements by statement name and parameter types -> server-side name.
    private var prepared: [String: String] = [:]

    /// Opens a connection (blocking).
    /// - Parameter conninfo: A libpq conninfo string or `postgres://` URL, passed through unchanged.
    init(conninfo: String, logger: Logger) throws(PostgresError) {
        try Self.validate(conninfo)
        guard let handle = PQconnectdb(conninfo) else {
            throw PostgresError(.connectionFailed, "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let error = Self.connectError(handle, conninfo: conninfo)
            PQfinish(handle)
            throw error
        }
        self.handle = handle
        self.notices = NoticeSink(logger: logger)
        PQsetNoticeProcessor(handle, { context, message in
            guard let context, let message else { return }
            let sink = Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue()
            let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            sink.logger.notice("postgres: \(text)")
        }, Unmanaged.passUnretained(notices).toOpaque())
    }

    deinit { PQfinish(handle) }

    /// Rejects a malformed URL or conninfo before libpq tries to connect.
    private static func validate(_ conninfo: String) throws(PostgresError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            var reason = "it could not be parsed"
            if let errorMessage {
                reason = String(cString: errorMessage).trimmingCharacters(in: .whitespacesAndNewlines)
                PQfreemem(errorMessage)
            }
            throw PostgresError(
                .invalidConfiguration,
                "invalid database URL '\(maskingPassword(conninfo))': \(reason); use a libpq conninfo ('host=... dbname=...') or a postgres://user:password@host:port/dbname URL"
            )
        }
        PQconninfoFree(options)
    }

    private static func connectError(_ handle: OpaquePointer, conninfo: String) -> PostgresError {
        let raw = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        let target = maskingPassword(conninfo)
        if raw.contains("password authentication failed") || raw.contains("no password supplied")
            || (raw.contains("role") && raw.contains("does not exist"))
        {
            return PostgresError(
                .authenticationFailed,
                "the server refused the credentials for '\(target)': \(raw); check the user name and password in the URL")
        }
        if raw.contains("database") && raw.contains("does not exist") {
            return PostgresError(.invalidConfiguration, "cannot connect to '\(target)': \(raw); create the database or fix the URL")
        }
        return PostgresError(.connectionFailed, "cannot connect to '\(target)': \(raw)")
    }

    /// `true` when the connection is open and idle, and the server has not closed it.
    ///
    /// Reads whatever the server sent while the connection sat idle (a shutdown message,
    /// end of file) without blocking, so a connection the server dropped is noticed before it
    /// is handed out.
    var isHealthy: Bool {
        guard PQstatus(handle) == CONNECTION_OK, PQtransactionStatus(handle) == PQTRANS_IDLE else { return false }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 0) > 0 {
            if PQconsumeInput(handle) == 0 { return false }
            while let notification = PQnotifies(handle) { PQfreemem(notification) }
        }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// `true` once libpq has seen the connection break.
    var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    /// `true` inside a transaction block (also a failed one).
    var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// The server-side name of the statement prepared for these parameter types, preparing
    /// it on first use.
    func prepare(_ statement: PostgresStatement, _ parameters: [PostgresValue]) throws(PostgresError) -> String {
        let types = parameters.map(\.oid)
        let key = statement.name + "|" + types.map(String.init).joined(separator: ",")
        if let name = prepared[key] { return name }
        let serverName = "interlude_\(prepared.count + 1)"
        let result = types.withUnsafeBufferPointer {
            PQprepare(handle, serverName, statement.sql, Int32(parameters.count), $0.baseAddress)
        }
        defer { PQclear(result) }
        try check(result, statement: statement.name)
        prepared[key] = serverName
        return serverName
    }

    /// Calls `body` with libpq's parameter arrays. One contiguous buffer keeps every parameter
    /// alive for the whole call; the trailing byte gives empty (non-NULL) values a valid address.
    func withParameters<T>(
        _ parameters: [PostgresValue],
        _ body: ([UnsafePointer<CChar>?], [Int32], [Int32]) -> T
    ) -> T {
        var buffer: [UInt8] = []
        var offsets: [Int] = []
        for parameter in parameters {
            offsets.append(buffer.count)
            buffer += parameter.bytes ?? []
        }
        buffer.append(0)
        let lengths = parameters.map { Int32($0.bytes?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: parameters.count)
        return buffer.withUnsafeBytes { raw in
            let values: [UnsafePointer<CChar>?] = parameters.indices.map { i in
                parameters[i].bytes == nil ? nil : raw.baseAddress!.advanced(by: offsets[i]).assumingMemoryBound(to: CChar.self)
            }
            return body(values, lengths, formats)
        }
    }

    /// Runs a statement with binary parameters and binary results, preparing it on first use.
    func execute(_ statement: PostgresStatement, _ parameters: [PostgresValue]) throws(PostgresError) -> PostgresRows {
        let serverName = try prepare(statement, parameters)
        let result = withParameters(parameters) { values, lengths, formats in
            PQexecPrepared(handle, serverName, Int32(parameters.count), values, lengths, formats, 1)
        }
        defer { PQclear(result) }
        try check(result, statement: statement.name)
        return Self.rows(of: result!)
    }

    /// Runs several read statements in one round trip (libpq pipeline mode) and returns
    /// their rows in order. The first failure is thrown after the pipeline is drained.
    func executePipeline(_ statements: [(PostgresStatement, [PostgresValue])]) throws(PostgresError) -> [PostgresRows] {
        var names: [String] = []
        for (statement, parameters) in statements { names.append(try prepare(statement, parameters)) }
        guard PQenterPipelineMode(handle) == 1 else {
            throw failure(sqlState: nil, message: String(cString: PQerrorMessage(handle)), constraint: nil, statement: "pipeline")
        }
        defer { PQexitPipelineMode(handle) }
        for (i, (statement, parameters)) in statements.enumerated() {
            let sent = withParameters(parameters) { values, lengths, formats in
                PQsendQueryPrepared(handle, names[i], Int32(parameters.count), values, lengths, formats, 1)
            }
            guard sent == 1 else {
                throw failure(sqlState: nil, message: String(cString: PQerrorMessage(handle)), constraint: nil, statement: statement.name)
            }
        }
        guard PQpipelineSync(handle) == 1 else {
            throw failure(sqlState: nil, message: String(cString: PQerrorMessage(handle)), constraint: nil, statement: "pipeline")
        }
        var rows: [PostgresRows] = []
        var firstError: PostgresError?
        for (statement, _) in statements {
            // Each statement yields its result, then NULL.
            let result = PQgetResult(handle)
            do throws(PostgresError) {
                try check(result, statement: statement.name)
                rows.append(Self.rows(of: result!))
            } catch {
                if firstError == nil { firstError = error }
            }
            PQclear(result)
            while let extra = PQgetResult(handle) { PQclear(extra) }
        }
        // Then the sync point.
        while let result = PQgetResult(handle) {
            let done = PQresultStatus(result) == PGRES_PIPELINE_SYNC
            PQclear(result)
            if done { break }
        }
        if let firstError { throw firstError }
        return rows
    }

    /// Runs SQL without parameters through the simple protocol: transaction control and the
    /// library's own migration scripts (which may hold several statements).
    func executeScript(_ sql: String, name: String) throws(PostgresError) {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, statement: name)
    }

    func check(_ result: OpaquePointer?, statement: String) throws(PostgresError) {
        guard let result else {
            throw failure(sqlState: nil, message: String(cString: PQerrorMessage(handle)), constraint: nil, statement: statement)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return
        default:
            let field = { (code: Character) -> String? in
                PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
            }
            let message = field("M") ?? String(cString: PQresultErrorMessage(result))
            throw failure(sqlState: field("C").map { SQLState($0) }, message: message, constraint: field("n"), statement: statement)
        }
    }

    private func failure(sqlState: SQLState?, message: String, constraint: String?, statement: String) -> PostgresError {
        var text = message.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        if sqlState?.messageMayQuoteValues == true {
            text = "a parameter or stored value was not valid for its type (details withheld: they may quote parameter values)"
        }
        if isBroken {
            return PostgresError(
                .connectionLost,
                "the connection was lost: \(text); any open transaction was rolled back, retry on a new connection",
                sqlState: sqlState, statement: statement, constraint: constraint)
        }
        if sqlState == .undefinedTable || sqlState == .invalidSchemaName {
            return PostgresError(
                .schemaMissing, "\(text); create the schema with migrate() (or `interlude migrate`)",
                sqlState: sqlState, statement: statement, constraint: constraint)
        }
        return PostgresError(.server, text, sqlState: sqlState, statement: statement, constraint: constraint)
    }

    static func rows(of result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let types = (0..<columnCount).map { UInt32(PQftype(result, Int32($0))) }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<Int32(rowCount) {
            var cells: [PostgresCell] = []
            cells.reserveCapacity(columnCount)
            for c in 0..<Int32(columnCount) {
                var bytes: Data?
                if PQgetisnull(result, r, c) == 0 {
                    let length = Int(PQgetlength(result, r, c))
                    bytes = PQgetvalue(result, r, c).map { Data(bytes: $0, count: length) } ?? Data()
                }
                cells.append(PostgresCell(typeOID: types[Int(c)], column: columns[Int(c)], bytes: bytes))
            }
            rows.append(PostgresRow(cells: cells))
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, rows: rows, affectedRows: affected)
    }
}

/// Carries the logger to libpq's notice callback, which cannot capture context.
private final class NoticeSink {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
}
