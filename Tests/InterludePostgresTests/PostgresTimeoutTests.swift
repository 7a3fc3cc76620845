import Foundation
import Interlude
@testable import InterludePostgres
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("PostgreSQL timeouts and cancellation", .tags(.postgres), .timeLimit(.minutes(1)))
struct PostgresTimeoutTests {
    static let sleep = PostgresStatement("test.sleep", sql: "SELECT pg_sleep($1::float8)")
    static let ping = PostgresStatement("test.ping", sql: "SELECT 1")
    static let backendPID = PostgresStatement("test.backend_pid", sql: "SELECT pg_backend_pid()")
    static let activity = PostgresStatement(
        "test.activity", sql: "SELECT state, query FROM pg_stat_activity WHERE pid = $1::int4")
    static let statementTimeout = PostgresStatement(
        "test.statement_timeout", sql: "SELECT current_setting('statement_timeout')")

    static func pool(
        size: Int = 1, acquireTimeout: Duration = .seconds(30), timeouts: PostgresConnection.Timeouts = .init()
    ) throws -> PostgresPool {
        PostgresPool(
            configuration: .init(
                url: try TestDatabase.url(), size: size, connectAttempts: 1, acquireTimeout: acquireTimeout,
                timeouts: timeouts),
            logger: TestDatabase.logger)
    }

    static func pid(_ connection: PostgresConnection) async throws -> Int32 {
        try await connection.query(backendPID)[0].decode(Int32.self, at: 0)
    }

    // MARK: Statement timeout and query deadline

    @Test("A statement past the statement timeout fails with a retriable timeout error and its connection serves the next one")
    func statementTimeoutEndsSlowStatement() async throws {
        let pool = try Self.pool(timeouts: .init(statement: .seconds(1)))
        defer { pool.close() }
        let pid = try await pool.withConnection { try await Self.pid($0) }
        let error = await #expect(throws: PostgresError.self) { try await pool.query(Self.sleep, [.double(20)]) }
        #expect(error?.code == .timedOut, "expected .timedOut from the server's statement timeout, got \(String(describing: error))")
        #expect(error?.sqlState == .queryCanceled, "expected SQLSTATE 57014 (the server cancelled it), got \(String(describing: error))")
        #expect(error?.isRetriable == true)
        #expect(error?.statement == "test.sleep")
        // The server ended the statement; the session lives on and the pool hands it out again.
        let after = try await pool.withConnection { try await Self.pid($0) }
        #expect(after == pid, "expected the same connection (backend \(pid)) after a statement timeout, got backend \(after)")
    }

    enum Call: String, CaseIterable, Sendable {
        case statement, pipeline, transaction
    }

    @Test(
        "A backend that stops answering fails the caller at the query deadline, and the pool replaces the connection",
        arguments: Call.allCases)
    func stoppedBackend(call: Call) async throws {
        let pool = try Self.pool(timeouts: .init(statement: .seconds(1), queryDeadline: .seconds(2)))
        defer { pool.close() }
        let (error, pid) = try await pool.withConnection { connection in
            let pid = try await Self.pid(connection)
            try #require(kill(pid_t(pid), SIGSTOP) == 0, "could not stop backend \(pid): errno \(errno)")
            defer { _ = kill(pid_t(pid), SIGCONT) }
            let error = await #expect(throws: PostgresError.self) {
                switch call {
                case .statement: try await connection.query(Self.ping)
                case .pipeline: _ = try await connection.pipeline([(Self.ping, []), (Self.backendPID, [])])
                case .transaction: try await connection.withTransaction { try await $0.query(Self.ping) }
                }
            }
            #expect(connection.isBroken, "a connection whose server missed the deadline must be discarded")
            return (error, pid)
        }
        #expect(error?.code == .timedOut, "expected .timedOut at the client deadline, got \(String(describing: error))")
        #expect(error?.sqlState == nil)
        #expect(error?.isRetriable == true)
        #expect(error?.message.contains("query deadline") == true, "the message should name the limit: \(String(describing: error))")
        let replacement = try await pool.withConnection { try await Self.pid($0) }
        #expect(replacement != pid, "expected a new connection, got the stopped backend \(pid) again")
    }

    // MARK: Cancellation

    @Test(
        "Cancelling a task in a long statement cancels it on the server and leaves the connection usable",
        arguments: [false, true])
    func cancelledStatement(inTransaction: Bool) async throws {
        let connection = try await TestDatabase.connect()
        let observer = try await TestDatabase.connect()
        defer {
            connection.close()
            observer.close()
        }
        let pid = try await Self.pid(connection)
        let outcome = await Self.cancel(
            {
                if inTransaction {
                    try await connection.withTransaction { try await $0.query(Self.sleep, [.double(30)]) }
                } else {
                    try await connection.query(Self.sleep, [.double(30)])
                }
            },
            once: "backend \(pid) runs pg_sleep"
        ) {
            let row = try await observer.query(Self.activity, [.int32(pid)])[0]
            return try row.decode(String?.self, at: 0) == "active" && row.decode(String.self, at: 1).contains("pg_sleep")
        }
        #expect(throws: CancellationError.self, "expected CancellationError from the cancelled statement") { try outcome.get() }
        let row = try await observer.query(Self.activity, [.int32(pid)])[0]
        let state = try row.decode(String?.self, at: 0)
        #expect(state == "idle", "expected the server to have ended pg_sleep (state idle), got \(state ?? "nil")")
        // The last statement the backend ran: pg_sleep, or the ROLLBACK that ended the transaction.
        let last = try row.decode(String.self, at: 1)
        #expect(last.contains(inTransaction ? "ROLLBACK" : "pg_sleep"), "unexpected last statement: \(last)")
        #expect(try await Self.pid(connection) == pid, "the connection should serve the next statement")
    }

    // MARK: Pool acquire

    @Test("A caller that finds every connection in use gives up after the acquire timeout with a retriable error")
    func acquireTimeout() async throws {
        let pool = try Self.pool(size: 1, acquireTimeout: .milliseconds(200))
        defer { pool.close() }
        let error = try await pool.withConnection { _ in
            await #expect(throws: PostgresError.self) { try await pool.query(Self.ping) }
        }
        #expect(error?.code == .timedOut, "expected .timedOut after the acquire timeout, got \(String(describing: error))")
        #expect(error?.isRetriable == true)
        #expect(error?.message.contains("acquire timeout") == true)
        #expect(pool.waitingCount == 0)
        try await pool.query(Self.ping)
    }

    @Test("Cancelling a task that waits for a connection ends its wait at once and leaks no slot")
    func cancelledWaiter() async throws {
        let pool = try Self.pool(size: 1, acquireTimeout: .seconds(30))
        defer { pool.close() }
        let outcome = try await pool.withConnection { _ in
            await Self.cancel({ try await pool.query(Self.ping) }, once: "a caller waits for the pool") { pool.waitingCount == 1 }
        }
        #expect(throws: CancellationError.self, "expected the waiting caller to get CancellationError") { try outcome.get() }
        #expect(pool.waitingCount == 0)
        // The one connection went back to the pool, not to the cancelled waiter.
        try await pool.query(Self.ping)
        try await pool.query(Self.ping)
    }

    // MARK: Connecting

    @Test(
        "Connecting to a server that accepts and never answers fails at the connect timeout, the URL's own first",
        arguments: [(urlTimeout: false, connect: Duration.seconds(2)), (urlTimeout: true, connect: Duration.seconds(3600))])
    func connectTimeout(urlTimeout: Bool, connect: Duration) async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let url = "postgres://interlude@127.0.0.1:\(listener.port)/interlude" + (urlTimeout ? "?connect_timeout=2" : "")
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(url: url, timeouts: .init(connect: connect))
        }
        #expect(error?.code == .connectionFailed, "expected .connectionFailed, got \(String(describing: error))")
        #expect(error?.isRetriable == true)
        #expect(error?.message.contains("connect timeout") == true, "the message should name the limit: \(String(describing: error))")
    }

    @Test("Every connection gets the keepalive and statement-timeout settings, and the URL's own settings win")
    func settingsReachLibpqAndServer() async throws {
        let keywords = ["connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        let plain = try await PostgresConnection.connect(
            url: try TestDatabase.url(), timeouts: .init(statement: .seconds(7), keepalivesIdle: .seconds(31)))
        defer { plain.close() }
        let applied = try await plain.withConnection { connection in keywords.map { connection.setting($0) } }
        #expect(applied == ["10", "1", "31", "10", "3"])
        #expect(try await plain.query(Self.statementTimeout)[0].decode(String.self, at: 0) == "7s")

        let url = try TestDatabase.url() + "?connect_timeout=4&keepalives_idle=5&options=-c%20statement_timeout%3D4500"
        let custom = try await PostgresConnection.connect(url: url, timeouts: .init(statement: .seconds(7)))
        defer { custom.close() }
        let kept = try await custom.withConnection { connection in keywords.map { connection.setting($0) } }
        #expect(kept == ["4", "1", "5", "10", "3"])
        #expect(try await custom.query(Self.statementTimeout)[0].decode(String.self, at: 0) == "4500ms")
    }

    @Test("A query deadline not longer than the statement timeout is refused with a message that says what to fix")
    func invalidTimeouts() async throws {
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(
                url: try TestDatabase.url(), timeouts: .init(statement: .seconds(30), queryDeadline: .seconds(10)))
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("queryDeadline") == true, "\(String(describing: error))")
    }

    // MARK: Helpers

    struct NeverHappened: Error, CustomStringConvertible {
        let what: String
        var description: String { "waited 20 s for \(what); it did not happen" }
    }

    /// Runs `body` in a child task, cancels it once `condition` holds, and returns how it ended.
    static func cancel(
        _ body: @escaping @Sendable () async throws -> some Any, once what: String,
        _ condition: () async throws -> Bool
    ) async -> Result<Void, any Error> {
        await withTaskGroup(of: Result<Void, any Error>.self) { group in
            group.addTask {
                do {
                    _ = try await body()
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            defer { group.cancelAll() }
            do {
                try await waitUntil(what, condition)
            } catch {
                return .failure(error)
            }
            group.cancelAll()
            return await group.next()!
        }
    }

    /// Checks `condition` until it holds, letting other tasks run in between; throws after 20 s.
    static func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw NeverHappened(what: what) }
            await Task.yield()
        }
    }
}

/// A TCP socket on 127.0.0.1 that the kernel completes connections to but that never reads or
/// writes: a server that accepts and says nothing.
final class SilentListener {
    let descriptor: Int32
    let port: UInt16

    struct Failed: Error, CustomStringConvertible {
        let step: String
        let code: Int32
        var description: String { "could not set up the silent listener: \(step) failed with errno \(code)" }
    }

    init() throws {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failed(step: "socket", code: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        let named = bound == 0 && listen(descriptor, 16) == 0
            && withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            } == 0
        guard named else {
            let code = errno
            _ = closeSocket(descriptor)
            throw Failed(step: "bind, listen or getsockname", code: code)
        }
        self.descriptor = descriptor
        self.port = UInt16(bigEndian: address.sin_port)
    }

    func close() {
        _ = closeSocket(descriptor)
    }
}

#if canImport(Glibc)
private let closeSocket = Glibc.close
#else
private let closeSocket = Darwin.close
#endif
