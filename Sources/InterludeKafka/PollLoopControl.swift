import Synchronization

/// Coordinates a client's polling thread with `close()` and `deinit`: a stop request
/// flag, and a latch that async callers await until the thread has finished.
final class PollLoopControl: Sendable {
    private struct State {
        var stopRequested = false
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Whether the polling thread should leave its loop.
    var shouldStop: Bool { state.withLock { $0.stopRequested } }

    /// Whether the polling thread has finished its shutdown work.
    var isFinished: Bool { state.withLock { $0.finished } }

    /// Asks the polling thread to leave its loop; returns whether this call was the first.
    @discardableResult
    func requestStop() -> Bool {
        state.withLock { state in
            defer { state.stopRequested = true }
            return !state.stopRequested
        }
    }

    /// Called by the polling thread as its last action; wakes every waiter.
    func markFinished() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Suspends (without blocking a thread) until `markFinished()` was called.
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyFinished = state.withLock { state in
                if state.finished { return true }
                state.waiters.append(continuation)
                return false
            }
            if alreadyFinished { continuation.resume() }
        }
    }
}
