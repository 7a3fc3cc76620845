import Foundation
import Interlude
import InterludeKafka
import Logging
import Synchronization

/// Publishes committed outbox rows to Kafka and marks them published.
///
/// Rows a worker committed itself are published at once ("fast path"). A sweep publishes
/// rows left unpublished by a worker that died between its commit and its publish: a row is
/// swept only when two sweeps in a row saw it unpublished, so rows another live worker is
/// publishing right now are left to it. Delivery is at least once: consumers de-duplicate by
/// the event `id`.
public final class OutboxRelay: Sendable {
    let checkpointer: any Checkpointer
    let producer: KafkaProducer
    let logger: Logger
    private let seenLastSweep = Mutex<Set<String>>([])
    private let published = Atomic<Int>(0)

    /// Creates a relay.
    public init(checkpointer: any Checkpointer, producer: KafkaProducer, logger: Logger) {
        self.checkpointer = checkpointer
        self.producer = producer
        self.logger = logger
    }

    /// How many rows this relay published.
    public var publishedCount: Int { published.load(ordering: .relaxed) }

    /// Publishes rows (in order, per key) and marks the delivered ones published.
    /// - Returns: How many were delivered.
    @discardableResult
    public func publish(_ rows: [OutboxMessage]) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let records = rows.map { row in
            KafkaProducerRecord(
                topic: row.topic, key: Array(row.key.utf8), value: Array(row.payload),
                headers: [KafkaHeader(name: "interlude-event-id", value: Array(row.id.utf8))] + row.headers.sorted { $0.key < $1.key }.map { KafkaHeader(name: $0.key, value: Array($0.value.utf8)) })
        }
        let reports = await producer.send(records)
        var delivered: [String] = []
        for (row, report) in zip(rows, reports) {
            switch report {
            case .success: delivered.append(row.id)
            case .failure(let error):
                logger.warning("outbox publish failed; the sweep retries", metadata: ["kafka.topic": "\(row.topic)", "interlude.event_id": "\(row.id)", "error": "\(error)"])
            }
        }
        if !delivered.isEmpty { try await checkpointer.markPublished(delivered) }
        published.add(delivered.count, ordering: .relaxed)
        return delivered.count
    }

    /// One sweep: publishes rows that were already unpublished at the previous sweep.
    @discardableResult
    public func sweep(limit: Int = 500) async throws -> Int {
        let rows = try await checkpointer.unpublishedOutbox(limit: limit)
        let ids = Set(rows.map(\.id))
        let stale = seenLastSweep.withLock { seen -> [OutboxMessage] in
            defer { seen = ids }
            return rows.filter { seen.contains($0.id) }
        }
        return try await publish(stale)
    }
}
