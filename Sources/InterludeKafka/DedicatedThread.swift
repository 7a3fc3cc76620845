import Foundation

/// Starts OS threads for blocking librdkafka calls, so they never occupy Swift's
/// cooperative thread pool.
enum DedicatedThread {
    /// Starts a detached thread named `name` that runs `body` once.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}
