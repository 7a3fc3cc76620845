import Synchronization

/// Finds the messages a consumer skipped because the broker no longer had them.
///
/// When a fetch asks for an offset the broker has already deleted (retention ran out before
/// the consumer got there), librdkafka resets the partition to `auto.offset.reset` and goes
/// on; the skipped messages are never delivered and the only trace is a warning in its log
/// (facility `OFFSET`: "<topic> [<partition>]: offset reset (at offset <n>, broker <id>) to
/// ..."). This reads that warning for the partition and the offset that could not be
/// fetched, and the partition's next message gives the offset it went on at: the messages in
/// between were lost. A reset to an earlier offset (a redelivery, not a loss) reports nothing.
final class OffsetResetWatch: Sendable {
    /// Per partition, the offset a reset could not fetch, until the partition's next message.
    private let pending = Mutex<[TopicPartition: Int64]>([:])

    /// Reads one librdkafka log line; notes a reset away from an offset the broker refused.
    /// - Returns: Whether the line was such a reset.
    @discardableResult
    func note(level: Int32, facility: String, text: String) -> Bool {
        // Resets caused by an error are logged at LOG_WARNING (4); others only at debug level.
        guard facility == "OFFSET", level <= 4, let reset = Self.parse(text) else { return false }
        pending.withLock { $0[reset.partition] = reset.offset }
        return true
    }

    /// Called with each message before it is delivered: the messages skipped just before it
    /// (from the offset a reset could not fetch up to this message's), or `nil`. A message
    /// from before that offset (fetched before the reset) leaves the reset pending; one at
    /// that offset (after a reset to an earlier offset came back to it) ends it with nothing
    /// skipped. The command topics are not compacted, so a jump in offsets is a loss.
    func skipped(before message: KafkaMessage) -> Range<Int64>? {
        let partition = message.topicPartition
        return pending.withLock { pending -> Range<Int64>? in
            guard let from = pending[partition], message.offset >= from else { return nil }
            pending.removeValue(forKey: partition)
            return from < message.offset ? from..<message.offset : nil
        }
    }

    /// Forgets a partition's pending reset (it was revoked or lost: its next owner reads it).
    func forget(_ partitions: [TopicPartition]) {
        pending.withLock { pending in
            for partition in partitions { pending.removeValue(forKey: partition) }
        }
    }

    /// The partition and offset of librdkafka's "offset reset" line (2.0.2: "[thrd:main]: t
    /// [0]: offset reset (at offset 12, broker 1) to ..."; later versions add "(leader epoch
    /// n)" after the offset). The topic is the word before " [partition]" (topic names have no
    /// spaces). `nil` for any other line, or a reset from a logical offset (nothing skipped).
    static func parse(_ text: String) -> (partition: TopicPartition, offset: Int64)? {
        guard let marker = text.range(of: "]: offset reset (at offset "),
            let open = text[..<marker.lowerBound].range(of: " [", options: .backwards),
            let partition = Int32(text[open.upperBound..<marker.lowerBound])
        else { return nil }
        let topic = String(text[..<open.lowerBound].split(separator: " ").last ?? "")
        let digits = text[marker.upperBound...].prefix { $0 == "-" || $0.isNumber }
        guard !topic.isEmpty, let offset = Int64(digits), offset >= 0 else { return nil }
        return (TopicPartition(topic: topic, partition: partition), offset)
    }
}
