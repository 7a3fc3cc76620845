import Foundation
import Logging
internal import CRdKafka

/// The oldest and next offsets of a partition.
public struct KafkaWatermarks: Hashable, Sendable {
    /// The oldest offset still retained.
    public var low: Int64
    /// The offset the next message will get (one past the newest).
    public var high: Int64

    /// Creates watermarks.
    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }
}

/// Reads partitions by offset, outside any consumer group, and answers offset questions:
/// watermarks, a group's committed offsets, the first offset at a time. What operators need
/// to replay a range of a topic and to measure consumer lag.
///
/// It never joins the group it is configured with (it neither subscribes nor commits): the
/// group id only names whose committed offsets ``committed(_:timeout:)`` reads. Every call
/// that blocks in librdkafka runs on a dedicated thread.
public final class KafkaPartitionReader: Sendable {
    private let client: RDKafkaClient
    /// Serializes ``read(from:through:timeout:)`` calls: an assignment is per handle.
    private let reading = NSLock()

    /// Creates a reader.
    /// - Parameters:
    ///   - configuration: Brokers, librdkafka properties and the group whose committed offsets
    ///     ``committed(_:timeout:)`` reads. The consumer settings for offsets and commits are
    ///     overridden: the reader commits nothing.
    ///   - logger: Receives librdkafka's logs.
    /// - Throws: ``KafkaError`` with code `invalidConfiguration` or `clientCreation`.
    public init(configuration: KafkaConsumer.Configuration, logger: Logger) throws(KafkaError) {
        let properties = configuration.properties + [
            ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"), ("enable.partition.eof", "false"),
        ]
        client = try RDKafkaClient(kind: .consumer, properties: properties, context: RDKafkaCallbackContext(logger: logger))
        // Errors and logs queued for the application come out of the reads' polls.
        rd_kafka_poll_set_consumer(client.handle)
    }

    /// The watermarks of each partition.
    /// - Parameter timeout: For all the partitions together.
    /// - Throws: ``KafkaError`` with code `metadata` naming the partition that failed, or
    ///   `timedOut`.
    public func watermarks(_ partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [TopicPartition: KafkaWatermarks] {
        let client = self.client
        return try await RDKafkaClient.runBlocking(name: "interlude.kafka.watermarks") { () throws(KafkaError) in
            var result: [TopicPartition: KafkaWatermarks] = [:]
            let deadline = ContinuousClock.now + timeout
            for partition in partitions {
                let left = deadline - ContinuousClock.now
                guard left > .zero else {
                    throw KafkaError(code: .timedOut, message: "reading the watermarks of \(partitions.count) partitions took longer than \(timeout)", isRetriable: true)
                }
                var low: Int64 = 0
                var high: Int64 = 0
                let error = rd_kafka_query_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high, max(1, left.milliseconds))
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(code: .metadata, message: "reading the watermarks of \(partition)", rdError: error)
                }
                result[partition] = KafkaWatermarks(low: low, high: high)
            }
            return result
        }
    }

    /// The offsets the configured group committed (the next offset it will read), for the
    /// partitions that have one.
    /// - Throws: ``KafkaError`` with code `metadata`.
    public func committed(_ partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [TopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let client = self.client
        return try await RDKafkaClient.runBlocking(name: "interlude.kafka.committed") { () throws(KafkaError) in
            let list = RDKafkaTopicPartitionList(partitions)
            let error = list.withList { rd_kafka_committed(client.handle, $0, timeout.milliseconds) }
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: .metadata, message: "reading the committed offsets of \(partitions.count) partitions", rdError: error)
            }
            return list.offsets.filter { $0.value >= 0 }
        }
    }

    /// For each partition, the first offset whose message timestamp is at or after `date`
    /// (the high watermark when there is none).
    /// - Throws: ``KafkaError`` with code `metadata`.
    public func offsets(at date: Date, _ partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [TopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let client = self.client
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let found = try await RDKafkaClient.runBlocking(name: "interlude.kafka.offsets-for-times") { () throws(KafkaError) in
            let list = RDKafkaTopicPartitionList(partitions, offsets: partitions.map { _ in milliseconds })
            let error = list.withList { rd_kafka_offsets_for_times(client.handle, $0, Int32(clamping: timeout.milliseconds)) }
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: .metadata, message: "looking up offsets at \(date) in \(partitions.count) partitions", rdError: error)
            }
            return list.offsets
        }
        // -1 (end): no message at or after the time.
        let ends = try await watermarks(partitions.filter { (found[$0] ?? -1) < 0 }, timeout: timeout)
        return found.merging(ends.mapValues(\.high)) { _, end in end }
    }

    /// Reads every message from the start offsets on, as they arrive, handing each to
    /// `handle` until it returns `true` or `timeout` passes.
    /// - Returns: `true` when `handle` asked to stop, `false` when the time ran out.
    /// - Throws: ``KafkaError`` with code `partitionControl` or `consumerFailure`.
    public func follow(from start: [TopicPartition: Int64], timeout: Duration, _ handle: @escaping @Sendable (KafkaMessage) -> Bool) async throws(KafkaError) -> Bool {
        guard !start.isEmpty else { return false }
        return try await withAssignment(start) { client throws(KafkaError) in
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                guard let message = try Self.poll(client) else { continue }
                if handle(message) { return true }
            }
            return false
        }
    }

    /// The messages of each partition from its start offset through its last offset
    /// (inclusive), in offset order per partition. Partitions whose range is empty are skipped.
    /// - Throws: ``KafkaError`` with code `timedOut` when the messages did not all arrive
    ///   within `timeout`, `partitionControl` when the assignment is refused, or
    ///   `consumerFailure`.
    public func read(from start: [TopicPartition: Int64], through last: [TopicPartition: Int64], timeout: Duration = .seconds(30)) async throws(KafkaError) -> [KafkaMessage] {
        let wanted = start.filter { partition, offset in (last[partition] ?? -1) >= offset }
        guard !wanted.isEmpty else { return [] }
        return try await withAssignment(wanted) { client throws(KafkaError) in
            var remaining = Set(wanted.keys)
            var messages: [KafkaMessage] = []
            let deadline = ContinuousClock.now + timeout
            while !remaining.isEmpty {
                guard ContinuousClock.now < deadline else {
                    throw KafkaError(code: .timedOut, message: "reading \(remaining.sorted { $0.description < $1.description }) through the requested offsets: not all messages arrived within \(timeout)", isRetriable: true)
                }
                guard let message = try Self.poll(client) else { continue }
                let partition = message.topicPartition
                guard let end = last[partition], remaining.contains(partition) else { continue }
                if message.offset <= end { messages.append(message) }
                if message.offset >= end { remaining.remove(partition) }
            }
            return messages
        }
    }

    /// Assigns the partitions at their start offsets, runs `body` on a dedicated thread, then
    /// drops the assignment. One assignment at a time per reader.
    private func withAssignment<T: Sendable>(_ start: [TopicPartition: Int64], _ body: @escaping @Sendable (RDKafkaClient) throws(KafkaError) -> T) async throws(KafkaError) -> T {
        let client = self.client
        let reading = self.reading
        return try await RDKafkaClient.runBlocking(name: "interlude.kafka.read") { () throws(KafkaError) in
            reading.lock()
            defer { reading.unlock() }
            let partitions = Array(start.keys)
            let list = RDKafkaTopicPartitionList(partitions, offsets: partitions.map { start[$0]! })
            let error = list.withList { rd_kafka_assign(client.handle, $0) }
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: .partitionControl, message: "assigning \(partitions.count) partitions to read", rdError: error)
            }
            defer { _ = rd_kafka_assign(client.handle, nil) }
            return try body(client)
        }
    }

    /// One message, waiting up to 100 ms; `nil` when none came.
    private static func poll(_ client: RDKafkaClient) throws(KafkaError) -> KafkaMessage? {
        guard let pointer = rd_kafka_consumer_poll(client.handle, 100) else { return nil }
        defer { rd_kafka_message_destroy(pointer) }
        let err = pointer.pointee.err
        if err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code: .consumerFailure, message: "reading partitions", rdError: err)
        }
        return KafkaMessage(copying: pointer)
    }
}

extension RDKafkaTopicPartitionList {
    /// The offset of each element (after librdkafka filled them in).
    var offsets: [TopicPartition: Int64] {
        withList { list in
            var result: [TopicPartition: Int64] = [:]
            guard list.pointee.cnt > 0 else { return result }
            for element in UnsafeBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt)) {
                result[TopicPartition(topic: String(cString: element.topic), partition: element.partition)] = element.offset
            }
            return result
        }
    }
}
