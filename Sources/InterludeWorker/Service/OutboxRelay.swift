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
    /// Delivered rows not yet marked published: marked in batches, not one round trip each.
    private let unmarked = Mutex<[String]>([])

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
        published.add(delivered.count, ordering: .relaxed)
        let backlog = unmarked.withLock { ids -> Int in
            ids += delivered
            return ids.count
        }
        if backlog >= 256 { try await flushMarks() }
        return delivered.count
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
            try await checkpointer.markPublished(ids)
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

    /// One sweep: publishes rows that were already unpublished at the previous sweep.
    @discardableResult
    public func sweep(limit: Int = 500) async throws -> Int {
        try await flushMarks()
        let rows = try await checkpointer.unpublishedOutbox(limit: limit)
        let ids = Set(rows.map(\.id))
        let stale = seenLastSweep.withLock { seen -> [OutboxMessage] in
            defer { seen = ids }
            return rows.filter { seen.contains($0.id) }
        }
        return try await publish(stale)
    }
}
