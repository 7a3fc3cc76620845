import Foundation
import Synchronization

/// A dedicated thread that runs one connection's blocking libpq calls, one job at a time.
///
/// Async callers enqueue a job and await a continuation that the thread resumes, so no
/// blocking call ever runs on Swift's cooperative thread pool. The `PQConnection` lives in
/// the thread's ``Context`` and is only touched by jobs, i.e. only on this thread.
final class ConnectionThread: @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `stopping` are only read or written while holding
    // `condition`; the context (and the PGconn in it) is only used on the thread itself;
    // `broken` is atomic.

    /// State only the thread touches.
    final class Context {
        var connection: PQConnection?
    }

    typealias Job = @Sendable (Context) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopping = false
    private let broken = Atomic<Bool>(false)

    /// Starts the thread.
    init(name: String) {
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    /// `true` once the connection broke, was abandoned after a timeout, or was stopped.
    var isBroken: Bool { broken.load(ordering: .relaxed) }

    /// Marks the connection as not to be used again (its owner discards it).
    func markBroken() { broken.store(true, ordering: .relaxed) }

    /// Runs `body` on the thread and returns its result.
    ///
    /// When `cancellable` and the calling task is cancelled, a job still queued is skipped, and
    /// a job already running has its statement cancelled on the server (a cancel request sent
    /// from another thread): a statement the server cancelled ends in `CancellationError`; one
    /// that finished first returns its result.
    /// - Parameters:
    ///   - cancellable: `false` for set-up and clean-up (`ROLLBACK`) that must run even in a
    ///     cancelled task.
    ///   - body: The job; it runs on the thread.
    /// - Throws: What `body` throws, `CancellationError`, or `PostgresError` `.connectionLost`
    ///   after ``stop()``.
    func run<T: Sendable>(
        cancellable: Bool = true, _ body: @escaping @Sendable (Context) throws(PostgresError) -> T
    ) async throws -> T {
        let ticket = JobTicket()
        let result: Result<T, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let accepted = enqueue { [self] context in
                    let result = ticket.run(context, body)
                    // Before resuming, so that the caller (and a pool it returns the connection to) sees it.
                    if context.connection?.isBroken ?? true { markBroken() }
                    continuation.resume(returning: result)
                }
                if !accepted {
                    continuation.resume(returning: .failure(PostgresError(.connectionLost, "the connection was closed")))
                }
            }
        } onCancel: {
            if cancellable { ticket.cancel() }
        }
        return try result.get()
    }

    /// Asks the thread to finish its queued jobs, close the connection and exit.
    func stop() {
        markBroken()
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func enqueue(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    private func loop() {
        let context = Context()
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                break
            }
            let batch = jobs
            jobs.removeAll()
            condition.unlock()
            for job in batch { job(context) }
        }
        context.connection = nil  // PQfinish on this thread
    }
}

/// One job's cancellation, shared by the waiting task's cancellation handler (any thread) and
/// the connection thread.
///
/// A cancel request is tied to the job it was meant for: the thread does not start the
/// connection's next job until a request sent during this one has reached the server, and it
/// abandons the connection when the request does not arrive within the connection's limit.
final class JobTicket: Sendable {
    private enum State {
        case queued
        case skipped
        case running(PQCanceller?)
        /// Cancelled while running; `delivered` is signalled once the request reached the server.
        case cancelled(delivered: DispatchSemaphore?)
        case finished
    }

    private let state = Mutex(State.queued)

    /// Cancels the job: skips it while queued, or asks the server to cancel its statement.
    /// Never blocks (the request is sent from a thread of its own).
    func cancel() {
        let request: (PQCanceller, DispatchSemaphore)? = state.withLock { state in
            switch state {
            case .queued:
                state = .skipped
                return nil
            case .running(let canceller?):
                let delivered = DispatchSemaphore(value: 0)
                state = .cancelled(delivered: delivered)
                return (canceller, delivered)
            case .running(nil):
                state = .cancelled(delivered: nil)
                return nil
            case .skipped, .cancelled, .finished:
                return nil
            }
        }
        if let (canceller, delivered) = request {
            canceller.cancelInBackground { delivered.signal() }
        }
    }

    /// Runs `body` on the connection thread unless the job was cancelled while queued, and
    /// turns a statement the server cancelled at the caller's request into `CancellationError`.
    func run<T>(_ context: ConnectionThread.Context, _ body: (ConnectionThread.Context) throws(PostgresError) -> T) -> Result<T, any Error> {
        let canceller = context.connection?.canceller
        let started = state.withLock { state -> Bool in
            guard case .queued = state else { return false }
            state = .running(canceller)
            return true
        }
        guard started else { return .failure(CancellationError()) }
        let result = Result { () throws(PostgresError) -> T in try body(context) }
        let delivered = state.withLock { state -> DispatchSemaphore?? in
            defer { state = .finished }
            guard case .cancelled(let delivered) = state else { return nil }
            return .some(delivered)
        }
        guard let delivered else { return result.mapError { $0 } }
        // Cancelled while running: keep the next job safe from this request.
        if let delivered, let connection = context.connection, !connection.isBroken,
            delivered.wait(timeout: .now() + .milliseconds(Int(connection.cancelDeliveryLimit.millisecondsRoundedUp))) == .timedOut
        {
            connection.abandon()
        }
        if case .failure(let error) = result, error.sqlState == .queryCanceled || error.code == .timedOut {
            return .failure(CancellationError())
        }
        return result.mapError { $0 }
    }
}
