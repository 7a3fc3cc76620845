import Foundation

/// A dedicated thread that runs one connection's blocking libpq calls, one job at a time.
///
/// Async callers enqueue a job and await a continuation that the thread resumes, so no
/// blocking call ever runs on Swift's cooperative thread pool. The `PQConnection` lives in
/// the thread's ``Context`` and is only touched by jobs, i.e. only on this thread.
final class ConnectionThread: @unchecked Sendable {
    // @unchecked Sendable: `jobs` and `stopping` are only read or written while holding
    // `condition`; the context (and the PGconn in it) is only used on the thread itself.

    /// State only the thread touches.
    final class Context {
        var connection: PQConnection?
    }

    typealias Job = @Sendable (Context) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopping = false

    /// Starts the thread.
    init(name: String) {
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the thread and returns its result.
    /// - Throws: What `body` throws, or `PostgresError` `.connectionLost` after ``stop()``.
    func run<T: Sendable>(_ body: @escaping @Sendable (Context) throws(PostgresError) -> T) async throws(PostgresError) -> T {
        let result: Result<T, PostgresError> = await withCheckedContinuation { continuation in
            let accepted = enqueue { context in
                continuation.resume(returning: Result { () throws(PostgresError) -> T in try body(context) })
            }
            if !accepted {
                continuation.resume(returning: .failure(PostgresError(.connectionLost, "the connection was closed")))
            }
        }
        return try result.get()
    }

    /// Asks the thread to finish its queued jobs, close the connection and exit.
    func stop() {
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
