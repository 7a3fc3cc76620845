import Dispatch
import Logging
import Synchronization

/// Bounds the messages waiting in a consumer's events stream.
///
/// While `limit` messages wait unread, the polling thread holds its next poll until the reader
/// has taken half of them, or for at most its poll interval (then it polls once more, so
/// rebalances are still served while a reader is slow). Meanwhile librdkafka keeps its own
/// prefetch queue, bounded by `queued.min.messages` and `queued.max.messages.kbytes`.
///
/// It does not pause the assignment. With librdkafka 2.0.2 a resumed partition is fetched
/// only when the broker thread next looks at its partitions, and a broker thread with every
/// partition paused sleeps up to a second, so pausing the whole assignment stalled the
/// consumer for most of a second each time (measured in `interlude dev --auto-approve 20000`;
/// see docs/kafka.md). Partitions the application pauses (``KafkaConsumer/pause(_:)``) are
/// unaffected: ``KafkaConsumer/resume(_:)`` wakes their broker thread (``FetchWaker``).
final class ConsumerFlowControl: Sendable {
    let limit: Int
    private let buffered = Atomic<Int>(0)
    /// Set by the polling thread while it waits for the backlog to drain.
    private let waiting = Atomic<Bool>(false)
    private let drained = DispatchSemaphore(value: 0)
    /// Whether the polling thread has held a poll yet (only the first hold is logged).
    private let held = Atomic<Bool>(false)

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The number of messages delivered to the stream but not yet taken by the iterator.
    var backlog: Int { buffered.load(ordering: .relaxed) }

    func messageYielded() { buffered.add(1, ordering: .relaxed) }

    func messageTaken() {
        let left = buffered.subtract(1, ordering: .relaxed).newValue
        if left <= limit / 2, waiting.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged {
            drained.signal()
        }
    }

    /// Called by the polling thread before every poll: while the backlog is at `limit`, waits
    /// until the reader took half of it, or for at most `maxWait`.
    func regulate(maxWait: Duration, logger: Logger) {
        guard backlog >= limit else { return }
        if !held.exchange(true, ordering: .relaxed) {
            logger.debug("holding polls: \(backlog) messages wait unread in the events stream")
        }
        waiting.store(true, ordering: .sequentiallyConsistent)
        // Checked after announcing the wait: a reader that drained in between signals nobody.
        // (Were this load to see a stale value, the wait would end at `maxWait`.)
        if buffered.load(ordering: .sequentiallyConsistent) > limit / 2 {
            _ = drained.wait(timeout: .now() + .milliseconds(Int(maxWait.milliseconds)))
        }
        // A signal that raced with the timeout leaves the semaphore at 1: the next hold then
        // returns at once, which costs one early poll and nothing else.
        waiting.store(false, ordering: .sequentiallyConsistent)
    }
}
