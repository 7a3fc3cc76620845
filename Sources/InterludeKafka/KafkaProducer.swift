import Logging
import Synchronization
internal import CRdKafka

/// An idempotent Kafka producer with awaitable delivery reports.
///
/// A dedicated thread polls librdkafka for delivery reports, so no blocking call runs on
/// Swift's cooperative thread pool. Keys choose partitions with the Java client's murmur2
/// partitioner, so producers in any language place a key on the same partition.
///
/// Call ``flush(timeout:)`` and then ``close()`` on shutdown; dropping the producer without
/// `close()` stops its thread and fails undelivered sends with ``KafkaError/Code/closed``.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let tracker: ProducerDeliveryTracker
    private let control = PollLoopControl()
    private let topics = Mutex<[String: RDKafkaTopic]>([:])
    private let logger: Logger

    /// Creates a producer and starts its polling thread.
    /// - Throws: ``KafkaError`` with code `invalidConfiguration` naming a rejected property,
    ///   or `clientCreation`.
    public init(configuration: Configuration, logger: Logger) throws(KafkaError) {
        let tracker = ProducerDeliveryTracker()
        let context = RDKafkaCallbackContext(logger: logger, delivery: tracker)
        self.client = try RDKafkaClient(
            kind: .producer, properties: configuration.properties, context: context
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { rk, message, _ in
                guard let message, let tracker = RDKafkaCallbackContext.of(rk)?.delivery else { return }
                KafkaProducer.report(message.pointee, to: tracker)
            }
        }
        self.tracker = tracker
        self.logger = logger
        startPolling(interval: configuration.pollInterval)
    }

    deinit {
        control.requestStop()
    }

    /// Sends one message and waits for the broker's acknowledgement.
    /// - Parameters:
    ///   - topic: The destination topic.
    ///   - key: Key bytes (the thread id for Interlude topics); chooses the partition.
    ///   - value: Value bytes.
    ///   - headers: Headers, in order. Default: none.
    /// - Returns: The partition and offset the broker assigned.
    /// - Throws: ``KafkaError`` with code `messageDelivery` (retriable when librdkafka says so)
    ///   or `closed`.
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = []
    ) async throws(KafkaError) -> DeliveryReport {
        let record = KafkaProducerRecord(topic: topic, key: key, value: value, headers: headers)
        return try await send([record])[0].get()
    }

    /// Sends messages in order and waits until every one is acknowledged or failed.
    ///
    /// Messages are handed to librdkafka in array order, so messages with the same key keep
    /// their order. A failure of one message does not stop the others.
    /// - Returns: One outcome per record, in the same order.
    public func send(_ records: [KafkaProducerRecord]) async -> [Result<DeliveryReport, KafkaError>] {
        guard !records.isEmpty else { return [] }
        return await withCheckedContinuation { waiter in
            enqueue(records) { waiter.resume(returning: $0) }
        }
    }

    /// Hands messages to librdkafka in order and returns at once; `completion` is called once
    /// with one outcome per record (in order) when every one was acknowledged or failed. It
    /// runs on the producer's polling thread: keep it short and never block in it.
    ///
    /// This is how a caller publishes without waiting (the worker's outbox relay): the
    /// messages are already queued when this returns, so messages sent later with the same
    /// key come after them.
    public func enqueue(_ records: [KafkaProducerRecord], completion: @escaping @Sendable ([Result<DeliveryReport, KafkaError>]) -> Void) {
        guard !records.isEmpty else {
            completion([])
            return
        }
        guard let batch = tracker.beginBatch(count: records.count, waiter: completion) else {
            let error = KafkaError(code: .closed, message: "send on a closed producer")
            completion(records.map { _ in .failure(error) })
            return
        }
        for (index, record) in records.enumerated() {
            let (messageID, closed) = tracker.registerMessage(batch: batch, index: index)
            let error = closed
                ? KafkaError(code: .closed, message: "the producer was closed during the send")
                : enqueue(record, messageID: messageID)
            if let error { tracker.complete(messageID: messageID, with: .failure(error)) }
        }
    }

    /// Creates the handles of `topics` now and waits (up to `timeout`) until librdkafka knows
    /// their partition leaders, so the first message to each is not delayed.
    ///
    /// librdkafka 2.0.2 does not look up the leader of a topic first produced to by name: such
    /// a message waits for the next periodic metadata refresh (up to a second). Producing
    /// through a topic handle created in advance avoids that; every `send` uses the cached
    /// handle of its topic, and this call makes the lookup happen before the first send.
    /// - Throws: ``KafkaError`` with code `timedOut` when the metadata did not arrive in time.
    public func warm(topics: [String], timeout: Duration = .seconds(10)) async throws(KafkaError) {
        let handles = topics.map { topicHandle($0) }
        let client = self.client
        try await RDKafkaClient.runBlocking(name: "interlude.kafka.warm") { () throws(KafkaError) in
            for handle in handles {
                var metadata: UnsafePointer<rd_kafka_metadata>? = nil
                let result = rd_kafka_metadata(client.handle, 0, handle.handle, &metadata, Int32(timeout.milliseconds))
                if let metadata { rd_kafka_metadata_destroy(metadata) }
                guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(code: .timedOut, message: "no metadata for topic '\(handle.name)' within \(timeout)", rdError: result)
                }
            }
        }
    }

    /// The cached handle of a topic, created on first use.
    private func topicHandle(_ name: String) -> RDKafkaTopic {
        if let handle = topics.withLock({ $0[name] }) { return handle }
        let created = RDKafkaTopic(client: client, name: name)
        return topics.withLock { cache in
            if let existing = cache[name] { return existing }
            cache[name] = created
            return created
        }
    }

    /// Waits (on a dedicated thread) until every enqueued message was delivered or failed.
    /// - Throws: ``KafkaError`` with code `timedOut` if messages are still outstanding.
    public func flush(timeout: Duration) async throws(KafkaError) {
        let client = self.client
        try await RDKafkaClient.runBlocking(name: "interlude.kafka.flush") { () throws(KafkaError) in
            let result = rd_kafka_flush(client.handle, timeout.milliseconds)
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let left = rd_kafka_outq_len(client.handle)
                throw KafkaError(
                    code: .timedOut,
                    message: "flush: \(left) messages or requests still outstanding after \(timeout)",
                    rdError: result
                )
            }
        }
    }

    /// Stops the polling thread; messages not yet delivered are purged and their `send`
    /// calls fail with code `closed`. Call ``flush(timeout:)`` first to deliver them.
    public func close() async {
        control.requestStop()
        await control.waitUntilFinished()
    }

    private func startPolling(interval: Duration) {
        let client = self.client
        let control = self.control
        let tracker = self.tracker
        DedicatedThread.start(name: "interlude.kafka.producer") {
            while !control.shouldStop {
                rd_kafka_poll(client.handle, interval.milliseconds)
            }
            let flags = Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            rd_kafka_purge(client.handle, flags)
            rd_kafka_poll(client.handle, 0)  // serves the purged messages' reports
            tracker.close(failingPendingWith: KafkaError(
                code: .closed, message: "the producer was closed before the message was delivered"))
            control.markFinished()
        }
    }

    /// Hands one record to librdkafka; returns the error if it could not be enqueued.
    private func enqueue(_ record: KafkaProducerRecord, messageID: UInt) -> KafkaError? {
        var allocations: [UnsafeMutableRawPointer] = []
        defer { allocations.forEach { $0.deallocate() } }
        func copy(_ bytes: [UInt8]) -> UnsafeMutableRawPointer {
            let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            allocations.append(pointer)
            return pointer
        }
        func copy(_ text: String) -> UnsafeMutablePointer<CChar> {
            copy(Array(text.utf8) + [0]).assumingMemoryBound(to: CChar.self)
        }
        var values: [rd_kafka_vu_t] = []
        func append(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
            var value = rd_kafka_vu_t()
            value.vtype = type
            fill(&value)
            values.append(value)
        }
        let topic = topicHandle(record.topic)
        append(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topic.handle }
        append(RD_KAFKA_VTYPE_VALUE) { $0.u.mem = .init(ptr: copy(record.value), size: record.value.count) }
        if let key = record.key {
            append(RD_KAFKA_VTYPE_KEY) { $0.u.mem = .init(ptr: copy(key), size: key.count) }
        }
        for header in record.headers {
            append(RD_KAFKA_VTYPE_HEADER) {
                $0.u.header.name = UnsafePointer(copy(header.name))
                $0.u.header.val = header.value.map { UnsafeRawPointer(copy($0)) }
                $0.u.header.size = header.value?.count ?? -1
            }
        }
        append(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
        append(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(bitPattern: messageID) }
        guard let error = rd_kafka_produceva(client.handle, values, values.count) else { return nil }
        return KafkaError(
            code: .messageDelivery,
            message: "could not enqueue a message for topic '\(record.topic)'",
            consuming: error
        )
    }

    /// Turns a delivery report (on the polling thread) into the awaited outcome.
    private static func report(_ message: rd_kafka_message_t, to tracker: ProducerDeliveryTracker) {
        let messageID = UInt(bitPattern: message._private)
        let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
        if message.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            let report = DeliveryReport(topic: topic, partition: message.partition, offset: message.offset)
            tracker.complete(messageID: messageID, with: .success(report))
        } else {
            let error = KafkaError(
                code: .messageDelivery,
                message: "delivery to topic '\(topic)' partition \(message.partition) failed",
                rdError: message.err
            )
            tracker.complete(messageID: messageID, with: .failure(error))
        }
    }
}

/// Owns one librdkafka topic handle (`rd_kafka_topic_t`) and destroys it in `deinit`.
///
/// `@unchecked Sendable`: topic handles are thread-safe in librdkafka and immutable here; the
/// client is retained so the `rd_kafka_t` outlives every topic handle made from it.
final class RDKafkaTopic: @unchecked Sendable {
    let handle: OpaquePointer
    let name: String
    private let client: RDKafkaClient

    init(client: RDKafkaClient, name: String) {
        self.client = client
        self.name = name
        // Never fails for a valid client: topic handles are created locally and refcounted.
        self.handle = rd_kafka_topic_new(client.handle, name, nil)!
    }

    deinit { rd_kafka_topic_destroy(handle) }
}
