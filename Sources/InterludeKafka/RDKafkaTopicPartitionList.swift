internal import CRdKafka

/// Owns an `rd_kafka_topic_partition_list_t` and destroys it in `deinit`.
///
/// Not `Sendable`: it is created, used and dropped within one call.
final class RDKafkaTopicPartitionList {
    private let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// Builds a list; `offset` (when given) is set on each element.
    init(_ partitions: [TopicPartition], offsets: [Int64]? = nil) {
        pointer = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        for (index, item) in partitions.enumerated() {
            let element = rd_kafka_topic_partition_list_add(pointer, item.topic, item.partition)!
            if let offsets { element.pointee.offset = offsets[index] }
        }
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(pointer)
    }

    /// Calls `body` with the C list, keeping this owner (and so the list) alive meanwhile:
    /// reading a stored pointer alone would let Swift free the owner before the C call.
    func withList<Result>(
        _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Result
    ) -> Result {
        withExtendedLifetime(self) { body(pointer) }
    }

    /// The first element carrying an error, if any.
    var firstError: (TopicPartition, rd_kafka_resp_err_t)? {
        withList { list in
            Self.elements(of: list).first { $0.err != RD_KAFKA_RESP_ERR_NO_ERROR }.map {
                (TopicPartition(topic: String(cString: $0.topic), partition: $0.partition), $0.err)
            }
        }
    }

    /// Copies the topic-partition pairs out of a list librdkafka owns.
    static func partitions(
        of list: UnsafePointer<rd_kafka_topic_partition_list_t>?
    ) -> [TopicPartition] {
        elements(of: list).map {
            TopicPartition(topic: String(cString: $0.topic), partition: $0.partition)
        }
    }

    private static func elements(
        of list: UnsafePointer<rd_kafka_topic_partition_list_t>?
    ) -> UnsafeBufferPointer<rd_kafka_topic_partition_t> {
        guard let list, list.pointee.cnt > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt))
    }
}
