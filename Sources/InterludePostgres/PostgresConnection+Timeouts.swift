import Foundation

extension PostgresConnection {
    /// Limits that keep a hung server or network from hanging a caller, applied to every
    /// connection.
    ///
    /// Settings the URL or conninfo already makes win over these: `connect_timeout` and the
    /// `keepalives*` keywords (also `PGCONNECT_TIMEOUT`) replace ``connect`` and the keepalive
    /// settings, and `options='-c statement_timeout=...'` (also `PGOPTIONS`) replaces
    /// ``statement``. `keepalives=0` in the URL turns TCP keepalives off.
    ///
    /// ```swift
    /// var timeouts = PostgresConnection.Timeouts()
    /// timeouts.statement = .seconds(60)  // the query deadline follows: 65 seconds
    /// ```
    public struct Timeouts: Sendable, Hashable {
        /// How long libpq may take to open a connection (TCP connect, TLS, authentication), per
        /// host: libpq's `connect_timeout`, rounded up to whole seconds (libpq waits at least 2 s).
        /// `nil` waits as long as the operating system does. Default: 10 seconds.
        public var connect: Duration?
        /// The server's `statement_timeout`, set on every connection: the server cancels a
        /// statement that runs longer, and the call throws `PostgresError` `.timedOut` (SQLSTATE
        /// 57014); the connection stays usable. `nil` keeps the server's setting. Default: 30 seconds.
        public var statement: Duration?
        /// How long the client waits for the server's answer to one call (a statement, a
        /// pipeline, a script) before it sends a cancel request, discards the connection and
        /// throws `PostgresError` `.timedOut`. This catches a server or network that stopped
        /// answering, which the statement timeout cannot; it must be longer than ``statement``.
        /// `nil` means ``statement`` plus 5 seconds, or no client deadline when ``statement`` is
        /// `nil` too. Default: `nil` (35 seconds with the default statement timeout).
        public var queryDeadline: Duration?
        /// Idle time before the first TCP keepalive probe: libpq's `keepalives_idle`, in whole
        /// seconds. Default: 30 seconds.
        public var keepalivesIdle: Duration
        /// Time between unanswered keepalive probes: libpq's `keepalives_interval`, in whole
        /// seconds. Default: 10 seconds.
        public var keepalivesInterval: Duration
        /// Unanswered probes after which the connection counts as dead: libpq's
        /// `keepalives_count`. Default: 3.
        public var keepalivesCount: Int

        /// Creates limits; see each property for its default.
        public init(
            connect: Duration? = .seconds(10), statement: Duration? = .seconds(30), queryDeadline: Duration? = nil,
            keepalivesIdle: Duration = .seconds(30), keepalivesInterval: Duration = .seconds(10), keepalivesCount: Int = 3
        ) {
            self.connect = connect
            self.statement = statement
            self.queryDeadline = queryDeadline
            self.keepalivesIdle = keepalivesIdle
            self.keepalivesInterval = keepalivesInterval
            self.keepalivesCount = keepalivesCount
        }

        /// The client deadline for one call: ``queryDeadline``, or ``statement`` plus 5 seconds.
        var effectiveQueryDeadline: Duration? {
            queryDeadline ?? statement.map { $0 + .seconds(5) }
        }

        /// Checks every limit is positive and the query deadline outlasts the statement timeout.
        func validate() throws(PostgresError) {
            let limits: [(String, Duration?)] = [
                ("connect", connect), ("statement", statement), ("queryDeadline", queryDeadline),
                ("keepalivesIdle", keepalivesIdle), ("keepalivesInterval", keepalivesInterval),
            ]
            for (name, limit) in limits {
                if let limit, limit <= .zero {
                    throw PostgresError(
                        .invalidConfiguration,
                        "PostgresConnection.Timeouts.\(name) is \(limit); it must be positive (use nil where a limit is optional, for none)")
                }
            }
            guard keepalivesCount >= 1 else {
                throw PostgresError(
                    .invalidConfiguration,
                    "PostgresConnection.Timeouts.keepalivesCount is \(keepalivesCount); it must be at least 1 (put keepalives=0 in the URL to turn keepalives off)")
            }
            if let queryDeadline, let statement, queryDeadline <= statement {
                throw PostgresError(
                    .invalidConfiguration,
                    "the query deadline (\(queryDeadline)) must be longer than the statement timeout (\(statement)), so that the server ends slow statements before the client gives up on the connection; raise queryDeadline or leave it nil (statement + 5 seconds)")
            }
        }

        /// The libpq connection keywords these limits set, applied before the user's conninfo
        /// so that the user's own keywords win.
        var libpqKeywords: [(String, String)] {
            var keywords: [(String, String)] = [
                ("keepalives", "1"),
                ("keepalives_idle", Self.wholeSeconds(keepalivesIdle)),
                ("keepalives_interval", Self.wholeSeconds(keepalivesInterval)),
                ("keepalives_count", String(keepalivesCount)),
            ]
            if let connect { keywords.append(("connect_timeout", Self.wholeSeconds(connect))) }
            return keywords
        }

        /// ``statement`` as a `statement_timeout` value in milliseconds, rounded up.
        var statementTimeoutSetting: String? {
            statement.map { String(max($0.millisecondsRoundedUp, 1)) }
        }

        private static func wholeSeconds(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            return String(max(seconds + (attoseconds > 0 ? 1 : 0), 1))
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up (so that a wait never ends before its limit).
    var millisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
