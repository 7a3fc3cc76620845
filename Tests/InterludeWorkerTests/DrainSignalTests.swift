import InterludeWorker
import Testing

/// The worker's drain signal: its waiter must end on start and on cancellation.
@Suite("Drain signal")
struct DrainSignalTests {
    @Test("a task waiting for the drain ends when it is cancelled (a worker whose consumer failed must not wait forever)", .timeLimit(.minutes(1)))
    func cancelledWaiterEnds() async {
        let signal = DrainSignal()
        let waiter = Task { await signal.wait() }
        waiter.cancel()
        await waiter.value
    }

    @Test("every waiter, and one coming after, returns once the drain started", .timeLimit(.minutes(1)))
    func startWakesWaiters() async {
        let signal = DrainSignal()
        let waiters = (0..<3).map { _ in Task { await signal.wait() } }
        signal.start()
        for waiter in waiters { await waiter.value }
        await signal.wait()
    }
}
