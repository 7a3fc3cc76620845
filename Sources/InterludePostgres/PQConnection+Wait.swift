internal import CLibPQ
import Foundation

/// The moment one call must have its answer by, and the limit it came from (for the error).
struct Deadline {
    /// The limit; `nil` for none.
    let limit: Duration?
    /// When the limit runs out; `nil` for never.
    let instant: ContinuousClock.Instant?

    /// A deadline `limit` from now; none when `limit` is `nil`.
    init(limit: Duration?) {
        self.limit = limit
        self.instant = limit.map { ContinuousClock.now + $0 }
    }

    /// Milliseconds left, rounded up, for `poll()`: `-1` for no deadline, `0` once it passed.
    var pollTimeout: Int32 {
        guard let instant else { return -1 }
        let left = ContinuousClock.now.duration(to: instant)
        guard left > .zero else { return 0 }
        return Int32(clamping: left.millisecondsRoundedUp)
    }
}

/// Sending and waiting in libpq's non-blocking mode, bounded by a ``Deadline``.
///
/// The pattern every call follows (and a new one, such as another pipeline, should too):
/// queue the command with ``send(_:_:)`` (`PQsendQueryPrepared`, `PQpipelineSync`, ...), push
/// it out with ``flush(_:_:)``, then read each result with ``nextResult(_:_:)`` (or all of them
/// with ``collect(_:_:)``), passing the same deadline. When the deadline passes, the wait throws
/// `PostgresError` `.timedOut`, a cancel request is sent from another thread, and the
/// connection is abandoned (its owner discards it).
extension PQConnection {
    /// Queues a command with a libpq `PQsend*` call; throws libpq's error when it refuses.
    func send(_ statement: String, _ call: () -> Int32) throws(PostgresError) {
        guard call() == 1 else { throw lastError(statement) }
    }

    /// Writes everything queued to the server, reading what the server sends meanwhile so
    /// neither side's buffers fill up. Every call waits for the server's answers after it, so
    /// each flush is one round trip (counted in ``PQConnection/roundTrips``).
    func flush(_ statement: String, _ deadline: Deadline) throws(PostgresError) {
        roundTrips?.record()
        while true {
            switch PQflush(handle) {
            case 0:
                return
            case 1:
                let events = try wait(Int16(POLLIN | POLLOUT), statement, deadline)
                if events & Int16(POLLIN) != 0, PQconsumeInput(handle) == 0 { throw lastError(statement) }
            default:
                throw lastError(statement)
            }
        }
    }

    /// The next result of the command sent, waiting for the server until `deadline`; `nil` when
    /// the command has no more results (libpq's `PQgetResult`, which then never blocks).
    func nextResult(_ statement: String, _ deadline: Deadline) throws(PostgresError) -> OpaquePointer? {
        while PQisBusy(handle) == 1 {
            try wait(Int16(POLLIN), statement, deadline)
            guard PQconsumeInput(handle) == 1 else { throw lastError(statement) }
        }
        return PQgetResult(handle)
    }

    /// Waits until the socket is ready for `events`, or throws `.timedOut` at the deadline.
    /// - Returns: The events that are ready.
    @discardableResult
    private func wait(_ events: Int16, _ statement: String, _ deadline: Deadline) throws(PostgresError) -> Int16 {
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw lastError(statement) }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while true {
            let timeout = deadline.pollTimeout
            if timeout == 0 { throw timedOut(statement, deadline) }
            let ready = poll(&descriptor, 1, timeout)
            if ready > 0 { return descriptor.revents }
            if ready < 0, errno != EINTR {
                throw PostgresError(.connectionLost, "waiting for the server failed: \(String(cString: strerror(errno)))", statement: statement)
            }
        }
    }

    /// Abandons the connection, asks the server to cancel the statement, and describes the timeout.
    private func timedOut(_ statement: String, _ deadline: Deadline) -> PostgresError {
        abandon()
        canceller?.cancelInBackground()
        let limit = deadline.limit.map { "\($0)" } ?? "the deadline"
        return PostgresError(
            .timedOut,
            "the server did not answer within the query deadline (\(limit)); the server or the network may be hung. A cancel request was sent and the connection is discarded: retry on a new connection (raise PostgresConnection.Timeouts.queryDeadline if statements legitimately take this long)",
            statement: statement)
    }
}
