import Synchronization
internal import CRdKafka

/// Wakes the broker threads of resumed partitions.
///
/// librdkafka (2.0.2, and 2.15 still) does not wake a broker thread on
/// `rd_kafka_resume_partitions`: the resumed partition is fetched when that thread next
/// looks at its partitions, which is at the next fetch response of another partition, or
/// after up to a second when every partition it serves was paused. A lane that pauses its
/// partition at a full queue and resumes it at half then sat idle for most of each second
/// (`interlude dev --auto-approve 20000 --workers 1 --partitions 1`). Any request queued for
/// the broker wakes its thread, so after a resume this asks the partition's leader for the
/// partition's watermarks (a read), on a thread of its own; resumes that arrive meanwhile are
/// coalesced into the same pass.
final class FetchWaker: Sendable {
    private struct State {
        var pending: Set<TopicPartition> = []
        var running = false
    }

    private let state = Mutex(State())
    /// How long one watermark query may wait for its broker.
    private static let timeoutMilliseconds: Int32 = 1000

    init() {}

    /// Queues `partitions` to have their leaders woken; returns at once.
    func wake(_ partitions: [TopicPartition], client: RDKafkaClient) {
        let start = state.withLock { state -> Bool in
            state.pending.formUnion(partitions)
            guard !state.running, !state.pending.isEmpty else { return false }
            state.running = true
            return true
        }
        guard start else { return }
        let timeout = Self.timeoutMilliseconds
        DedicatedThread.start(name: "interlude.kafka.wake") { [self] in
            while let partition = state.withLock({ state -> TopicPartition? in
                if let next = state.pending.popFirst() { return next }
                state.running = false
                return nil
            }) {
                var low: Int64 = 0
                var high: Int64 = 0
                // The answer is not needed; an error (broker down, consumer closing) only means
                // the partition is fetched on librdkafka's own schedule.
                _ = rd_kafka_query_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high, timeout)
            }
        }
    }
}
