import Foundation
import Interlude
import InterludeKafka
import Logging
import Synchronization

/// Publishes committed outbox rows to Kafka and marks them published.
///
/// Rows a worker committed itself are handed to the producer at once without waiting for the
/// broker (``enqueue(_:)``): they are durable in the outbox already, so the worker's lane goes
/// on to its next batch while they are delivered. Delivered rows are marked published in
/// batches (one statement every few milliseconds, not one per row). A sweep publishes rows
/// left unpublished by a worker that died between its commit and its publish: a row is swept
/// only when two sweeps in a row saw it unpublished, so rows another live worker is
/// publishing right now are left to it. Delivery is at least once: consumers de-duplicate by
/// the event `id`.
public final class OutboxRelay: Sendable {
    let store: any WorkerStore
    let producer: KafkaProducer
    let logger: Logger
    let hooks: WorkerHooks
    private let seenLastSweep = Mutex<Set<String>>([])
    private let published = Atomic<Int>(0)
    private let inFlight = Atomic<Int>(0)
    /// Delivered rows not yet marked published: marked in batches, not one round trip each.
    private let unmarked = Mutex<[String]>([])

    /// Creates a relay.
    public init(store: any WorkerStore, producer: KafkaProducer, logger: Logger, hooks: WorkerHooks = WorkerHooks()) {
        self.store = store
        self.producer = producer
        self.logger = logger
        self.hooks = hooks
    }

    /// How many rows this relay published.
    public var publishedCount: Int { published.load(ordering: .relaxed) }

    /// Rows handed to the producer whose delivery is not yet known.
    public var pending: Int { inFlight.load(ordering: .relaxed) }

    /// Hands rows to the producer (in order, so per key) and returns at once; delivered rows
    /// are marked published by the mark loop, failed ones are left to the sweep.
    public func enqueue(_ rows: [OutboxMessage]) {
        guard !rows.isEmpty else { return }
        inFlight.add(rows.count, ordering: .relaxed)
        producer.enqueue(rows.map(Self.record)) { [self] reports in
            delivered(rows, reports)
            inFlight.subtract(rows.count, ordering: .relaxed)
        }
    }

    /// Publishes rows and waits for the broker; marks the delivered ones published.
    /// - Returns: How many were delivered.
    @discardableResult
    public func publish(_ rows: [OutboxMessage]) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let reports = await producer.send(rows.map(Self.record))
        let delivered = delivered(rows, reports)
        if unmarked.withLock({ $0.count }) >= 256 { try await flushMarks() }
        return delivered
    }

    private static func record(_ row: OutboxMessage) -> KafkaProducerRecord {
        KafkaProducerRecord(
            topic: row.topic, key: Array(row.key.utf8), value: Array(row.payload),
            headers: [KafkaHeader(name: "interlude-event-id", value: Array(row.id.utf8))] + row.headers.sorted { $0.key < $1.key }.map { KafkaHeader(name: $0.key, value: Array($0.value.utf8)) })
    }

    /// Records delivery reports; returns how many rows were delivered.
    @discardableResult
    private func delivered(_ rows: [OutboxMessage], _ reports: [Result<DeliveryReport, KafkaError>]) -> Int {
        var ids: [String] = []
        for (row, report) in zip(rows, reports) {
            switch report {
            case .success: ids.append(row.id)
            case .failure(let error):
                logger.warning("outbox publish failed; the sweep retries", metadata: ["kafka.topic": "\(row.topic)", "interlude.event_id": "\(row.id)", "error": "\(error)"])
            }
        }
        published.add(ids.count, ordering: .relaxed)
        if !ids.isEmpty { hooks.reached(.afterPublish) }
        unmarked.withLock { $0 += ids }
        return ids.count
    }

    /// Marks every delivered row published (one statement). A row delivered but not yet
    /// marked when the worker dies is published again by a sweep: at least once.
    public func flushMarks() async throws {
        let ids = unmarked.withLock { ids in
            defer { ids = [] }
            return ids
        }
        guard !ids.isEmpty else { return }
        do {
            try await store.markPublished(ids)
        } catch {
            unmarked.withLock { $0 += ids }
            throw error
        }
    }

    /// Flushes marks every `interval` until cancelled, then once more.
    public func markLoop(interval: Duration) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            do { try await flushMarks() } catch {
                logger.warning("marking outbox rows published failed; retrying", metadata: ["error": "\(error)"])
            }
        }
        try? await flushMarks()
    }

    /// Waits until every enqueued row was delivered or failed (checking every 10 ms, at most
    /// `timeout`), then marks the delivered ones.
    public func drain(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while pending > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        do { try await flushMarks() } catch {
            logger.warning("marking outbox rows published failed at shutdown; a sweep publishes them again", metadata: ["error": "\(error)"])
        }
    }

    /// One sweep: publishes rows that were already unpublished at the previous sweep.
    @discardableResult
    public func sweep(limit: Int = 500) async throws -> Int {
        try await flushMarks()
        let rows = try await store.unpublishedOutbox(limit: limit)
        let ids = Set(rows.map(\.id))
        let stale = seenLastSweep.withLock { seen -> [OutboxMessage] in
            defer { seen = ids }
            return rows.filter { seen.contains($0.id) }
        }
        return try await publish(stale)
    }
}
