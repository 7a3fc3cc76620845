import Logging
import Synchronization
internal import CRdKafka

/// A consumer-group member that delivers messages and rebalances as ``events``.
///
/// A dedicated thread polls librdkafka continuously (so the member is never evicted for
/// `max.poll.interval.ms`, even while the application runs a long step) and feeds the
/// events stream; no blocking call runs on Swift's cooperative thread pool.
///
/// Offsets are committed only after the application stores them: call
/// ``storeOffset(topic:partition:offset:)`` once a message's work is durable; stored offsets
/// are committed in the background, by ``commit()``, and when leaving the group. Use
/// ``pause(_:)`` / ``resume(_:)`` to stop fetching partitions while the application is busy.
/// Call ``close()`` to leave the group cleanly.
public final class KafkaConsumer: Sendable {
    /// Every message and assignment change, in order. Iterate it from one task.
    public let events: KafkaConsumerEvents

    private let client: RDKafkaClient
    private let sink: ConsumerEventSink
    private let control = PollLoopControl()
    private let waker = FetchWaker()
    /// Partitions paused with ``pause(_:)`` and not resumed since: only their resumes wake
    /// the broker threads.
    private let paused = Mutex<Set<TopicPartition>>([])
    private let logger: Logger

    /// Creates a consumer, subscribes it to `topics` and starts its polling thread.
    /// - Parameters:
    ///   - topics: Topics to subscribe to (the group assigns their partitions).
    ///   - configuration: Connection and group settings.
    ///   - logger: Receives librdkafka's logs and consumer errors.
    ///   - onRevoke: Runs before partitions are unassigned; see ``RevocationHandler``.
    ///     Default: none (the ``events`` still report every change).
    /// - Throws: ``KafkaError`` with code `invalidConfiguration` naming a rejected property,
    ///   `clientCreation`, or `consumerFailure` if the subscription is refused.
    public init(topics: [String], configuration: Configuration, logger: Logger, onRevoke: RevocationHandler? = nil) throws(KafkaError) {
        let sink = ConsumerEventSink(flow: ConsumerFlowControl(limit: configuration.maxBufferedMessages))
        let context = RDKafkaCallbackContext(logger: logger, consumerEvents: sink, revocation: onRevoke)
        let client = try RDKafkaClient(
            kind: .consumer, properties: configuration.properties, context: context
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, error, partitions, _ in
                KafkaConsumer.rebalance(rk: rk, error: error, partitions: partitions)
            }
        }
        rd_kafka_poll_set_consumer(client.handle)
        let subscription = RDKafkaTopicPartitionList(
            topics.map { TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        let result = subscription.withList { rd_kafka_subscribe(client.handle, $0) }
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                code: .consumerFailure, message: "subscribing to \(topics)", rdError: result)
        }
        self.client = client
        self.sink = sink
        self.events = sink.events
        self.logger = logger
        startPolling(interval: configuration.pollInterval)
    }

    deinit {
        // The polling thread still leaves the group and then releases the handle.
        control.requestStop()
    }

    /// Marks `offset` of `topic`/`partition` as processed; it is committed in the background,
    /// by ``commit()``, or when leaving the group. Non-blocking.
    ///
    /// Call this only after the message's work committed (in PostgreSQL) or was dead-lettered.
    /// - Parameter offset: The offset of the processed message (Kafka's "next offset",
    ///   `offset + 1`, is what gets committed).
    /// - Throws: ``KafkaError`` with code `offsetStore` if the partition is not assigned to
    ///   this consumer (anymore); that work will be redelivered to the new owner.
    public func storeOffset(topic: String, partition: Int32, offset: Int64) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList(
            [TopicPartition(topic: topic, partition: partition)], offsets: [offset + 1])
        let result = list.withList { rd_kafka_offsets_store(client.handle, $0) }
        let failure = list.firstError?.1 ?? result
        guard failure == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                code: .offsetStore,
                message: "storing offset \(offset) of \(topic)[\(partition)] (is it still assigned?)",
                rdError: failure
            )
        }
    }

    /// Marks `message` as processed; see ``storeOffset(topic:partition:offset:)``.
    public func storeOffset(of message: KafkaMessage) throws(KafkaError) {
        try storeOffset(topic: message.topic, partition: message.partition, offset: message.offset)
    }

    /// Commits every stored offset now and waits for the broker's answer (on a dedicated
    /// thread). Having nothing to commit is not an error.
    /// - Throws: ``KafkaError`` with code `commitFailed`; during a rebalance the error is
    ///   retriable (retry after the rebalance, or rely on the commit when leaving the group).
    public func commit() async throws(KafkaError) {
        let client = self.client
        guard !control.shouldStop else {
            throw KafkaError(code: .closed, message: "commit on a closed consumer")
        }
        try await RDKafkaClient.runBlocking(name: "interlude.kafka.commit") { () throws(KafkaError) in
            let result = rd_kafka_commit(client.handle, nil, 0)
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR || result == RD_KAFKA_RESP_ERR__NO_OFFSET else {
                throw KafkaError(code: .commitFailed, message: "committing stored offsets", rdError: result)
            }
        }
    }

    /// Stops fetching from `partitions` (the consumer keeps polling and stays in the group).
    /// Messages already delivered to ``events`` are not recalled.
    /// - Throws: ``KafkaError`` with code `partitionControl`.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList(partitions)
        try checkPartitionControl("pausing", list.withList { rd_kafka_pause_partitions(client.handle, $0) }, list)
        paused.withLock { $0.formUnion(partitions) }
    }

    /// Resumes fetching from `partitions` paused with ``pause(_:)``, from where it stopped,
    /// and wakes the broker threads of those that were paused, so fetching restarts at once
    /// (see `FetchWaker`). Resuming a partition that is not paused changes nothing.
    /// - Throws: ``KafkaError`` with code `partitionControl`.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList(partitions)
        try checkPartitionControl("resuming", list.withList { rd_kafka_resume_partitions(client.handle, $0) }, list)
        let resumed = paused.withLock { paused in partitions.filter { paused.remove($0) != nil } }
        if !resumed.isEmpty { waker.wake(resumed, client: client) }
    }

    /// Leaves the group cleanly: revokes the assignment (reported as an event), commits
    /// stored offsets, finishes ``events`` and waits for the polling thread to stop.
    public func close() async {
        control.requestStop()
        await control.waitUntilFinished()
    }

    private func checkPartitionControl(
        _ action: String, _ result: rd_kafka_resp_err_t, _ list: RDKafkaTopicPartitionList
    ) throws(KafkaError) {
        if let (partition, error) = list.firstError {
            throw KafkaError(code: .partitionControl, message: "\(action) \(partition)", rdError: error)
        }
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code: .partitionControl, message: "\(action) partitions", rdError: result)
        }
    }

    private func startPolling(interval: Duration) {
        let client = self.client
        let control = self.control
        let sink = self.sink
        let logger = self.logger
        DedicatedThread.start(name: "interlude.kafka.consumer") {
            var fatal: KafkaError? = nil
            while !control.shouldStop && fatal == nil {
                sink.flow.regulate(maxWait: interval, logger: logger)
                guard let message = rd_kafka_consumer_poll(client.handle, interval.milliseconds) else {
                    continue
                }
                fatal = KafkaConsumer.handle(message, sink: sink, logger: logger)
                rd_kafka_message_destroy(message)
            }
            let closeResult = rd_kafka_consumer_close(client.handle)
            if closeResult != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.warning(
                    "leaving the consumer group failed",
                    metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(closeResult)))"])
            }
            sink.finish(throwing: fatal)
            control.markFinished()
        }
    }

    /// Converts one polled message into an event; returns an error if the consumer is dead.
    private static func handle(
        _ pointer: UnsafeMutablePointer<rd_kafka_message_t>, sink: ConsumerEventSink, logger: Logger
    ) -> KafkaError? {
        let message = pointer.pointee
        guard message.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
            let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "-"
            let error = KafkaError(
                code: .consumerFailure, message: "consumer error (topic '\(topic)')", rdError: message.err)
            if message.err == RD_KAFKA_RESP_ERR__FATAL {
                logger.error("\(error)")
                return error
            }
            logger.warning("\(error)")
            return nil
        }
        let delivered = KafkaMessage(copying: pointer)
        if let skipped = sink.skips.skipped(before: delivered) {
            sink.yield(.messagesSkipped(delivered.topicPartition, offsets: skipped))
        }
        sink.yield(.message(delivered))
        return nil
    }
}

extension KafkaMessage {
    /// Copies topic, key, value, headers and timestamp out of a librdkafka message.
    /// Takes librdkafka's pointer: the header and timestamp accessors read the internal
    /// message that surrounds the public struct, so a copy of the struct would not do.
    init(copying pointer: UnsafeMutablePointer<rd_kafka_message_t>) {
        let message = pointer.pointee
        func bytes(_ pointer: UnsafeRawPointer?, _ count: Int) -> [UInt8]? {
            guard let pointer else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        var headers: [KafkaHeader] = []
        var rdHeaders: OpaquePointer? = nil
        if rd_kafka_message_headers(pointer, &rdHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let rdHeaders {
            var index = 0
            var name: UnsafePointer<CChar>? = nil
            var value: UnsafeRawPointer? = nil
            var size = 0
            while rd_kafka_header_get_all(rdHeaders, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes(value, size)))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
        self.init(
            topic: message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
            partition: message.partition,
            offset: message.offset,
            key: bytes(message.key, message.key_len),
            value: bytes(message.payload, message.len) ?? [],
            headers: headers,
            timestampMilliseconds: timestamp >= 0 ? timestamp : nil
        )
    }
}
