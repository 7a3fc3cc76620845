import Foundation
import Logging
import Synchronization

/// A small pool of ``PostgresConnection``s shared by many tasks.
///
/// Connections open lazily, up to ``Configuration/size``. Before a connection is handed out
/// the pool checks it without a round trip (still open, idle, not closed by the server); a
/// broken one is replaced. Opening a connection retries with exponential backoff while the
/// failure is retriable (server down, restarting, starting up), so a pool survives a server
/// restart without a process restart. A statement that was running when the connection broke
/// fails with a retriable `PostgresError` `.connectionLost`; the pool never re-runs it.
///
/// A caller that finds every connection in use waits, in order of arrival, for at most
/// ``Configuration/acquireTimeout`` (then a retriable `PostgresError` `.timedOut`); cancelling
/// its task ends the wait at once with `CancellationError`. Every connection gets
/// ``Configuration/timeouts``.
public final class PostgresPool: Sendable {
    /// Pool settings.
    public struct Configuration: Sendable {
        /// A libpq conninfo or `postgres://` URL, passed to libpq unchanged.
        public var url: String
        /// The most connections open at once. Default: 4.
        public var size: Int
        /// Schemas set as `search_path` on every new connection. Default: `nil` (the server's).
        public var searchPath: [String]?
        /// How many times to try opening a connection before giving up. Default: 8.
        public var connectAttempts: Int
        /// The wait after the first failed attempt; it doubles after each further one. Default: 50 ms.
        public var initialBackoff: Duration
        /// The longest wait between attempts. Default: 2 seconds.
        public var maxBackoff: Duration
        /// How long a caller waits for a free connection when all are in use before it gets a
        /// retriable `PostgresError` `.timedOut`. Default: 30 seconds.
        public var acquireTimeout: Duration
        /// Connect timeout, TCP keepalives, statement timeout and query deadline of every
        /// connection. Default: ``PostgresConnection/Timeouts``' defaults (connect 10 s,
        /// statement 30 s, query deadline 35 s, keepalives after 30 s idle, every 10 s, 3 probes).
        public var timeouts: PostgresConnection.Timeouts

        /// Creates settings; see each property for its default.
        public init(
            url: String, size: Int = 4, searchPath: [String]? = nil, connectAttempts: Int = 8,
            initialBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .seconds(2),
            acquireTimeout: Duration = .seconds(30), timeouts: PostgresConnection.Timeouts = .init()
        ) {
            self.url = url
            self.size = size
            self.searchPath = searchPath
            self.connectAttempts = connectAttempts
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.acquireTimeout = acquireTimeout
            self.timeouts = timeouts
        }

        /// The wait before attempt `attempt + 1` after `attempt` failures (1-based).
        func backoff(after attempt: Int) -> Duration {
            var delay = initialBackoff
            for _ in 1..<max(attempt, 1) {
                delay = delay * 2
                if delay >= maxBackoff { return maxBackoff }
            }
            return min(delay, maxBackoff)
        }
    }

    private enum Lease: Sendable {
        case existing(PostgresConnection)
        case open
    }

    /// A caller waiting for a connection; `id` finds it again when its task is cancelled.
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Lease, any Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var closed = false

        /// A connection or a slot to open one in, if either is free now.
        mutating func take(size: Int) throws(PostgresError) -> Lease? {
            if closed { throw PostgresError(.poolClosed, "the PostgreSQL pool was closed") }
            if let connection = idle.popLast() { return .existing(connection) }
            if open < size {
                open += 1
                return .open
            }
            return nil
        }

        /// Removes and returns the waiter `id`, if it still waits.
        mutating func removeWaiter(_ id: UInt64) -> Waiter? {
            guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return waiters.remove(at: index)
        }
    }

    private let configuration: Configuration
    /// Round trips made by every connection of the pool, since the pool was created.
    public let roundTrips = PostgresRoundTrips()
    private let logger: Logger
    private let clock: any Clock<Duration>
    private let state = Mutex(State())

    /// Creates a pool; no connection opens until one is needed.
    /// - Parameters:
    ///   - configuration: The settings.
    ///   - logger: For reconnect attempts and server notices. Default: label `interlude.postgres`.
    ///   - clock: Times the backoff between connection attempts. Default: `ContinuousClock()`.
    public init(
        configuration: Configuration, logger: Logger = Logger(label: "interlude.postgres"),
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
    }

    deinit { close() }

    /// Runs `body` with a connection of the pool, then gives the connection back.
    /// - Throws: What `body` throws, or `PostgresError` when no connection could be opened
    ///   (`.connectionFailed` is retriable), none became free within the acquire timeout
    ///   (`.timedOut`, retriable) or the pool is closed (`.poolClosed`); `CancellationError`
    ///   when the task is cancelled while it waits.
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    /// Runs a statement on a pooled connection.
    @discardableResult
    public func query(_ statement: PostgresStatement, _ parameters: [PostgresValue] = []) async throws -> PostgresRows {
        try await withConnection { try await $0.query(statement, parameters) }
    }

    /// Runs a statement on a pooled connection and returns how many rows it changed.
    @discardableResult
    public func execute(_ statement: PostgresStatement, _ parameters: [PostgresValue] = []) async throws -> Int {
        try await withConnection { try await $0.execute(statement, parameters) }
    }

    /// Runs `body` in a transaction on one pooled connection; rolls back when it throws.
    @discardableResult
    public func withTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { try await $0.withTransaction(body) }
    }

    /// Checks that the server answers a trivial statement.
    /// - Throws: `PostgresError` when it does not.
    public func checkHealth() async throws {
        try await query(Self.ping)
    }

    private static let ping = PostgresStatement("pool.ping", sql: "SELECT 1")

    /// Closes idle connections and refuses new work; connections in use close when returned.
    public func close() {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for connection in idle { connection.close() }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(.poolClosed, "the PostgreSQL pool was closed"))
        }
    }

    /// The number of callers waiting for a connection.
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    private func acquire() async throws -> PostgresConnection {
        let size = configuration.size
        let available = try state.withLock { state throws(PostgresError) in try state.take(size: size) }
        let lease: Lease
        if let available { lease = available } else { lease = try await waitForLease() }
        switch lease {
        case .existing(let connection):
            if await connection.checkHealth() { return connection }
            logger.info("replacing a PostgreSQL connection the server closed")
            connection.close()
            return try await openCounted()
        case .open:
            return try await openCounted()
        }
    }

    /// Waits for a connection or a slot, at most ``Configuration/acquireTimeout``.
    private func waitForLease() async throws -> Lease {
        try await withThrowingTaskGroup(of: Lease?.self) { group in
            group.addTask { try await self.enqueueWaiter() }
            group.addTask {
                try await self.clock.sleep(for: self.configuration.acquireTimeout)
                return nil
            }
            // The first to finish decides; the other is cancelled. A lease handed over in the
            // meantime is still taken, so none is lost.
            var lease: Lease?
            var timedOut = false
            var failure: (any Error)?
            while let result = await group.nextResult() {
                group.cancelAll()
                switch result {
                case .success(let granted?): lease = granted
                case .success(nil): timedOut = true
                case .failure(let error): if failure == nil { failure = error }
                }
            }
            if let lease { return lease }
            if timedOut {
                throw PostgresError(
                    .timedOut,
                    "no PostgreSQL connection became free within the acquire timeout (\(configuration.acquireTimeout)): all \(configuration.size) connections of the pool stayed in use. Retry later; if it keeps happening, look for long transactions, or raise the pool size or PostgresPool.Configuration.acquireTimeout")
            }
            throw failure ?? CancellationError()
        }
    }

    /// Joins the queue of waiters until a connection or slot is handed over; leaves it at once
    /// when the task is cancelled.
    private func enqueueWaiter() async throws -> Lease {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let size = configuration.size
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { state -> Result<Lease, any Error>? in
                    do throws(PostgresError) {
                        if let lease = try state.take(size: size) { return .success(lease) }
                    } catch {
                        return .failure(error)
                    }
                    // Checked under the lock the cancellation handler takes: either it runs
                    // after this and finds the waiter, or the task is already marked cancelled.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.removeWaiter(id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Opens a connection for a slot already counted in `open`; frees the slot on failure.
    private func openCounted() async throws -> PostgresConnection {
        do {
            return try await openWithBackoff()
        } catch {
            slotFreed()
            throw error
        }
    }

    private func openWithBackoff() async throws -> PostgresConnection {
        var attempt = 1
        while true {
            do {
                return try await PostgresConnection.connect(
                    url: configuration.url, searchPath: configuration.searchPath, logger: logger,
                    timeouts: configuration.timeouts, roundTrips: roundTrips)
            } catch {
                guard error.isRetriable, attempt < configuration.connectAttempts else { throw error }
                let delay = configuration.backoff(after: attempt)
                logger.warning(
                    "PostgreSQL connection attempt \(attempt) of \(configuration.connectAttempts) failed; retrying in \(delay)",
                    metadata: ["pg.sqlstate": "\(error.sqlState?.code ?? "")"])
                try await clock.sleep(for: delay)
                attempt += 1
            }
        }
    }

    private func release(_ connection: PostgresConnection) {
        if connection.isBroken {
            connection.close()
            slotFreed()
            return
        }
        let (waiter, closeIt) = state.withLock { state -> (Waiter?, Bool) in
            if state.closed {
                state.open -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), false) }
            state.idle.append(connection)
            return (nil, false)
        }
        if closeIt { connection.close() }
        waiter?.continuation.resume(returning: .existing(connection))
    }

    /// A connection slot became free: give it to a waiter (who opens a new one) or drop it.
    private func slotFreed() {
        let waiter = state.withLock { state -> Waiter? in
            if !state.closed, !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .open)
    }
}
