import Logging
import Synchronization
internal import CRdKafka

/// Bounds the messages waiting in a consumer's events stream.
///
/// The polling thread must keep polling (or the member is evicted), so instead of blocking it
/// pauses fetching of the whole assignment once `limit` messages wait unread, and resumes
/// the partitions the application did not pause itself once the backlog is down to half.
/// librdkafka drops prefetched messages of paused partitions and refetches them from the
/// last delivered position on resume, so nothing is lost or repeated.
final class ConsumerFlowControl: Sendable {
    private struct State {
        var pausedByApplication: Set<TopicPartition> = []
        var pausedForBacklog = false
    }

    let limit: Int
    private let buffered = Atomic<Int>(0)
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The number of messages delivered to the stream but not yet taken by the iterator.
    var backlog: Int { buffered.load(ordering: .relaxed) }

    func messageYielded() { buffered.add(1, ordering: .relaxed) }

    func messageTaken() { buffered.subtract(1, ordering: .relaxed) }

    /// Records partitions the application paused; they stay paused through backlog resumes.
    func applicationPaused(_ partitions: [TopicPartition]) {
        state.withLock { $0.pausedByApplication.formUnion(partitions) }
    }

    /// Records partitions the application resumed; returns whether fetching may resume now
    /// (false while the backlog keeps the whole assignment paused).
    func applicationResumed(_ partitions: [TopicPartition]) -> Bool {
        state.withLock { state in
            state.pausedByApplication.subtract(partitions)
            return !state.pausedForBacklog
        }
    }

    /// Called by the polling thread before every poll.
    func regulate(_ rk: OpaquePointer, logger: Logger) {
        let backlog = self.backlog
        if backlog >= limit {
            let first = state.withLock { state in
                defer { state.pausedForBacklog = true }
                return !state.pausedForBacklog
            }
            // Paused again on every pass: partitions assigned meanwhile must stop too.
            let assignment = Self.assignment(of: rk)
            _ = RDKafkaTopicPartitionList(assignment).withList { rd_kafka_pause_partitions(rk, $0) }
            if first { logger.debug("pausing fetch: \(backlog) messages wait unread in the events stream") }
        } else if backlog <= limit / 2 {
            let excluded: Set<TopicPartition>? = state.withLock { state in
                guard state.pausedForBacklog else { return nil }
                state.pausedForBacklog = false
                return state.pausedByApplication
            }
            guard let excluded else { return }
            let resumable = Self.assignment(of: rk).filter { !excluded.contains($0) }
            _ = RDKafkaTopicPartitionList(resumable).withList { rd_kafka_resume_partitions(rk, $0) }
            logger.debug("resuming fetch: the events backlog is down to \(backlog) messages")
        }
    }

    private static func assignment(of rk: OpaquePointer) -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>? = nil
        guard rd_kafka_assignment(rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return RDKafkaTopicPartitionList.partitions(of: list)
    }
}
