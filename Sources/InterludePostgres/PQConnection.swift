internal import CLibPQ
import Foundation
import Logging

/// Owns one libpq connection (`PGconn`) and frees it in `deinit`.
///
/// Not thread-safe, like `PGconn` itself: a `PQConnection` is created, used and released on
/// its ``ConnectionThread`` only. The connection is in libpq's non-blocking mode: every call
/// sends, then waits for the server's answer with `poll()` on the socket, bounded by the
/// connection's query deadline (`PQConnection+Wait.swift`). The waits block the thread; that is
/// why they never run on Swift's cooperative thread pool.
final class PQConnection {
    let handle: OpaquePointer
    private let notices: NoticeSink
    /// Prepared statements by statement name and parameter types -> server-side name.
    private var prepared: [String: String] = [:]
    /// Sends cancel requests for this connection from other threads; `nil` if libpq has none.
    let canceller: PQCanceller?
    /// The client deadline for one call; `nil` waits for the server forever.
    let queryDeadline: Duration?
    /// How long the thread waits for a cancel request to reach the server before it gives the
    /// connection up (so that a late cancel cannot hit the next statement).
    let cancelDeliveryLimit: Duration
    /// `true` once the server missed the query deadline: the connection must not be used again.
    private(set) var isAbandoned = false
    /// Counts this connection's round trips (shared with its pool); `nil` counts nothing.
    let roundTrips: PostgresRoundTrips?

    /// Opens a connection (blocking, bounded by the connect timeout) and sets up the session.
    /// - Parameters:
    ///   - conninfo: A libpq conninfo string or `postgres://` URL; its keywords win over `timeouts`.
    ///   - timeouts: Connect timeout, keepalives, statement timeout and query deadline.
    ///   - searchPath: A validated `search_path` value, or `nil` for the server's.
    ///   - roundTrips: Where to count round trips (the session set-up's too). Default: nowhere.
    init(
        conninfo: String, timeouts: PostgresConnection.Timeouts, searchPath: String?, logger: Logger,
        roundTrips: PostgresRoundTrips? = nil
    ) throws(PostgresError) {
        try timeouts.validate()
        try Self.validate(conninfo)
        let handle = try Self.open(conninfo, defaults: timeouts.libpqKeywords)
        guard PQstatus(handle) == CONNECTION_OK else {
            let error = Self.connectError(handle, conninfo: conninfo, timeouts: timeouts)
            PQfinish(handle)
            throw error
        }
        guard PQsetnonblocking(handle, 1) == 0 else {
            let reason = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(handle)
            throw PostgresError(.connectionFailed, "libpq could not switch the connection to non-blocking mode: \(reason)")
        }
        self.handle = handle
        self.notices = NoticeSink(logger: logger)
        self.canceller = PQCanceller(connection: handle, logger: logger)
        self.queryDeadline = timeouts.effectiveQueryDeadline
        self.cancelDeliveryLimit = timeouts.connect ?? .seconds(10)
        self.roundTrips = roundTrips
        PQsetNoticeProcessor(handle, { context, message in
            guard let context, let message else { return }
            let sink = Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue()
            let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            sink.logger.notice("postgres: \(text)")
        }, Unmanaged.passUnretained(notices).toOpaque())
        let options = setting("options") ?? ""
        let statementTimeout = options.contains("statement_timeout") ? nil : timeouts.statementTimeoutSetting
        let jit = options.contains("jit") ? nil : "off"
        let seqScan = options.contains("enable_seqscan") ? nil : "off"
        let planCache = options.contains("plan_cache_mode") ? nil : "force_generic_plan"
        _ = try execute(Self.sessionSetup, [.text(searchPath), .text(statementTimeout), .text(jit), .text(seqScan), .text(planCache)])
    }

    /// Sets the session's search path, statement timeout, JIT, sequential scans and plan cache
    /// mode (each only when given; settings in the URL's `options` win).
    ///
    /// - JIT compilation is off: the library's statements take arrays whose size the planner
    ///   cannot know, so their estimated cost crosses `jit_above_cost` while they run in well
    ///   under a millisecond, and compiling them with LLVM cost more than running them (11% of
    ///   the server's CPU in an `interlude dev` load).
    /// - Sequential scans are off (`enable_seqscan = off`: the planner still scans where no
    ///   index serves, as the console's list of pending questions does). Every statement on a
    ///   worker's path finds its rows through an index (a thread, command or event id, or a
    ///   partial index for the sweeps), but PostgreSQL keeps
    ///   the generic plan of a prepared statement from its sixth execution on, and a worker's
    ///   first executions run on empty tables, where a sequential scan is cheapest: those
    ///   plans kept scanning `threads`, `command_ledger` and `interrupts` for every batch load
    ///   as the tables grew (measured in a 4,000-run `interlude dev` load: 623 sequential scans
    ///   read 1.15 million rows in its first 12 seconds). Planning every execution instead
    ///   (`plan_cache_mode = force_custom_plan`, the previous setting) avoided that but cost
    ///   more than executing: 0.64 ms of planning against 0.59 ms of execution for the commit
    ///   of one command (`pg_stat_statements`, BENCHMARKS.md).
    /// - Prepared statements use their generic plan from the first execution
    ///   (`plan_cache_mode = force_generic_plan`). In the default mode PostgreSQL planned the
    ///   batch loads again at every execution, because their custom plans, which know that the
    ///   id array holds one element, looked cheaper than the generic plan: 0.5 ms of planning
    ///   per load of one command against 0.15 ms of execution (`pg_stat_statements` with
    ///   `track_planning`, 200 runs at 20 runs/s; BENCHMARKS.md). The generic plans read
    ///   through indexes (`QueryPlanTests`).
    private static let sessionSetup = PostgresStatement(
        "connection.setup",
        sql: """
            SELECT set_config('search_path', coalesce($1::text, current_setting('search_path')), false),
                   set_config('statement_timeout', coalesce($2::text, current_setting('statement_timeout')), false),
                   set_config('jit', coalesce($3::text, current_setting('jit')), false),
                   set_config('enable_seqscan', coalesce($4::text, current_setting('enable_seqscan')), false),
                   set_config('plan_cache_mode', coalesce($5::text, current_setting('plan_cache_mode')), false)
            """)

    /// Connects with `defaults` placed before the conninfo, so the conninfo's keywords (and
    /// libpq's environment variables) win. Blocks until connected, refused or timed out.
    private static func open(_ conninfo: String, defaults: [(String, String)]) throws(PostgresError) -> OpaquePointer {
        let fromEnvironment = environmentKeywords()
        let keywords = defaults.filter { !fromEnvironment.contains($0.0) } + [("dbname", conninfo)]
        let cKeywords = keywords.map { strdup($0.0) }
        let cValues = keywords.map { strdup($0.1) }
        defer { (cKeywords + cValues).forEach { free($0) } }
        let handle = (cKeywords.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { names in
            (cValues.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { values in
                PQconnectdbParams(names.baseAddress, values.baseAddress, 1)
            }
        }
        guard let handle else { throw PostgresError(.connectionFailed, "libpq could not allocate a connection") }
        return handle
    }

    /// Keywords that libpq's environment variables set (`PGCONNECT_TIMEOUT`, ...): the user's
    /// settings, which our defaults must not replace.
    private static func environmentKeywords() -> Set<String> {
        guard let options = PQconndefaults() else { return [] }
        defer { PQconninfoFree(options) }
        var keywords: Set<String> = []
        var option = options
        while let keyword = option.pointee.keyword {
            if option.pointee.val != nil { keywords.insert(String(cString: keyword)) }
            option += 1
        }
        return keywords
    }

    /// The value of a connection keyword as libpq applied it (URL, environment or default).
    func setting(_ keyword: String) -> String? {
        guard let options = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let name = option.pointee.keyword {
            if String(cString: name) == keyword { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
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

    private static func connectError(_ handle: OpaquePointer, conninfo: String, timeouts: PostgresConnection.Timeouts) -> PostgresError {
        let raw = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        let target = maskingPassword(conninfo)
        if raw.contains("timeout expired") {
            let limit = timeouts.connect.map { "the connect timeout (\($0), or connect_timeout in the URL)" } ?? "connect_timeout in the URL"
            return PostgresError(
                .connectionFailed,
                "cannot connect to '\(target)': the server did not complete the connection within \(limit); check that the host and port point at a PostgreSQL server that is up and reachable")
        }
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
        guard !isBroken, PQtransactionStatus(handle) == PQTRANS_IDLE else { return false }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 0) > 0 {
            if PQconsumeInput(handle) == 0 { return false }
            while let notification = PQnotifies(handle) { PQfreemem(notification) }
        }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// `true` once libpq has seen the connection break.
    var isLost: Bool { PQstatus(handle) != CONNECTION_OK }

    /// `true` when the connection must not be used again: lost, or abandoned after a timeout.
    var isBroken: Bool { isAbandoned || isLost }

    /// Gives the connection up: the server missed a deadline, or a cancel request may still
    /// be on its way. The owner discards it.
    func abandon() { isAbandoned = true }

    /// `true` inside a transaction block (also a failed one).
    var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// The server-side name of the statement prepared for these parameter types, preparing
    /// it on first use (one round trip, within `deadline`).
    func prepare(_ statement: PostgresStatement, _ parameters: [PostgresValue], _ deadline: Deadline) throws(PostgresError) -> String {
        let types = parameters.map(\.oid)
        let key = statement.name + "|" + types.map(String.init).joined(separator: ",")
        if let name = prepared[key] { return name }
        let serverName = "interlude_\(prepared.count + 1)"
        try send(statement.name) {
            types.withUnsafeBufferPointer { PQsendPrepare(handle, serverName, statement.sql, Int32(parameters.count), $0.baseAddress) }
        }
        try flush(statement.name, deadline)
        _ = try collect(statement.name, deadline)
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

    /// Queues a prepared statement with binary parameters and binary results (not flushed).
    func sendPrepared(_ statement: PostgresStatement, serverName: String, _ parameters: [PostgresValue]) throws(PostgresError) {
        try send(statement.name) {
            withParameters(parameters) { values, lengths, formats in
                PQsendQueryPrepared(handle, serverName, Int32(parameters.count), values, lengths, formats, 1)
            }
        }
    }

    /// Runs a statement with binary parameters and binary results, preparing it on first use.
    /// The whole call, preparation included, gets one query deadline.
    func execute(_ statement: PostgresStatement, _ parameters: [PostgresValue]) throws(PostgresError) -> PostgresRows {
        let deadline = Deadline(limit: queryDeadline)
        let serverName = try prepare(statement, parameters, deadline)
        try sendPrepared(statement, serverName: serverName, parameters)
        try flush(statement.name, deadline)
        return try collect(statement.name, deadline)
    }

    /// Runs several read statements in one round trip (libpq pipeline mode) and returns
    /// their rows in order. The first failure is thrown after the pipeline is drained. The
    /// whole pipeline, preparation included, gets one query deadline.
    func executePipeline(_ statements: [(PostgresStatement, [PostgresValue])]) throws(PostgresError) -> [PostgresRows] {
        let deadline = Deadline(limit: queryDeadline)
        var names: [String] = []
        for (statement, parameters) in statements { names.append(try prepare(statement, parameters, deadline)) }
        try send("pipeline") { PQenterPipelineMode(handle) }
        defer { PQexitPipelineMode(handle) }
        for (i, (statement, parameters)) in statements.enumerated() {
            try sendPrepared(statement, serverName: names[i], parameters)
        }
        try send("pipeline") { PQpipelineSync(handle) }
        try flush("pipeline", deadline)
        var rows: [PostgresRows] = []
        var firstError: PostgresError?
        for (statement, _) in statements {
            // Each statement yields its result, then NULL.
            let result = try nextResult(statement.name, deadline)
            do throws(PostgresError) {
                try check(result, statement: statement.name)
                rows.append(Self.rows(of: result!))
            } catch {
                if firstError == nil { firstError = error }
            }
            PQclear(result)
            while let extra = try nextResult(statement.name, deadline) { PQclear(extra) }
        }
        // Then the sync point.
        while let result = try nextResult("pipeline", deadline) {
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
        let deadline = Deadline(limit: queryDeadline)
        try send(name) { PQsendQuery(handle, sql) }
        try flush(name, deadline)
        _ = try collect(name, deadline)
    }

    /// Reads every result of the command sent last, until libpq reports none left. Throws the
    /// first failure once all are read (so the connection is idle again), else returns the
    /// last result's rows.
    func collect(_ statement: String, _ deadline: Deadline) throws(PostgresError) -> PostgresRows {
        var rows: PostgresRows?
        var firstError: PostgresError?
        while let result = try nextResult(statement, deadline) {
            do throws(PostgresError) {
                try check(result, statement: statement)
                rows = Self.rows(of: result)
            } catch {
                if firstError == nil { firstError = error }
            }
            PQclear(result)
        }
        if let firstError { throw firstError }
        guard let rows else { throw lastError(statement) }
        return rows
    }

    /// libpq's last error as a `PostgresError` for `statement`.
    func lastError(_ statement: String) -> PostgresError {
        failure(sqlState: nil, message: String(cString: PQerrorMessage(handle)), constraint: nil, statement: statement)
    }

    func check(_ result: OpaquePointer?, statement: String) throws(PostgresError) {
        guard let result else { throw lastError(statement) }
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
        if isLost {
            return PostgresError(
                .connectionLost,
                "the connection was lost: \(text); any open transaction was rolled back, retry on a new connection",
                sqlState: sqlState, statement: statement, constraint: constraint)
        }
        if sqlState == .queryCanceled {
            return PostgresError(
                .timedOut,
                "the server cancelled the statement (\(text)); it ran past the statement timeout or an administrator cancelled it. Retry; if it keeps happening, make the statement faster or raise PostgresConnection.Timeouts.statement",
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
