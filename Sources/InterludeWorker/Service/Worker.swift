import Foundation
import Interlude
import InterludeKafka
import Logging
import ServiceLifecycle
import Synchronization

/// A stateless worker: consumes `run`, `resume`, `update_state` and `cancel` commands,
/// applies them to threads in its store, publishes the resulting events, fires interrupt
/// deadlines and recovers stalled commands.
///
/// Run it in a `ServiceGroup`. Scale by running more workers with the same group id: Kafka
/// splits the partitions, the message key (thread id) keeps a thread on one partition, and the
/// thread version fences any worker that lost its partition in the middle of a step.
///
/// On graceful shutdown (SIGTERM) the worker stops taking messages, lets the commands in
/// flight finish (at most ``Configuration/shutdownGrace``; nodes are not cancelled before),
/// stores their offsets, leaves the group and returns. Past the grace, the work left is
/// cancelled and continued by the partition's next owner.
public final class Worker: Service, Sendable {
    let configuration: Configuration
    let registry: GraphRegistry
    let store: any WorkerStore
    let logger: Logger
    let processor: CommandProcessor
    let counters = Mutex<WorkerStats>(WorkerStats())
    let health = Mutex<WorkerHealth>(WorkerHealth())
    /// The series it reports (commands, durations, partitions owned for lag).
    public let metrics: WorkerMetrics

    /// Creates a worker that keeps every thread of `registry`'s graphs in `store`.
    /// - Parameter metrics: Where it reports. Default: the process's bootstrapped metrics backend.
    public init(configuration: Configuration, registry: GraphRegistry, store: any WorkerStore, logger: Logger, metrics: WorkerMetrics = WorkerMetrics()) {
        self.metrics = metrics
        var configuration = configuration
        configuration.processing.topics = configuration.topics
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.processor = CommandProcessor(registry: registry, store: store, configuration: configuration.processing, logger: logger)
        self.registry = processor.registry
    }

    /// What the worker did so far.
    public var stats: WorkerStats { counters.withLock { $0 } }

    /// Whether the worker is taking work: in its group, its store reachable, not draining.
    public var status: WorkerHealth { health.withLock { $0 } }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        let topics = configuration.topics
        let producer = try KafkaProducer(configuration: configuration.producerConfiguration, logger: logger)
        do {
            try await producer.warm(topics: [topics.reviews, topics.events, topics.dlq])
        } catch {
            logger.warning("topic metadata not ready at start; the first events may wait for it", metadata: ["error": "\(error)"])
        }
        do {
            try await store.warm()
        } catch {
            logger.warning("readying the store failed; the first commands may be slower", metadata: ["error": "\(error)"])
        }
        let letters = try KafkaProducer(configuration: configuration.deadLetterProducerConfiguration, logger: logger)
        do {
            try await letters.warm(topics: [topics.dlq])
        } catch {
            logger.warning("dead-letter topic metadata not ready at start; the first dead letter may wait for it", metadata: ["error": "\(error)"])
        }
        let relay = OutboxRelay(store: store, producer: producer, logger: logger, hooks: configuration.processing.hooks)
        let laneBox = LanesBox()
        let revokeTimeout = configuration.revokeTimeout
        let consumer = try KafkaConsumer(
            topics: topics.commands, configuration: configuration.consumerConfiguration, logger: logger,
            onRevoke: { partitions, lost in laneBox.lanes?.revoke(partitions, lost: lost, timeout: revokeTimeout) })
        let lanes = Lanes(buffer: configuration.partitionBuffer, maxBatch: configuration.processing.maxBatch, consumer: consumer, logger: logger)
        laneBox.lanes = lanes
        logger.info("worker started", metadata: ["kafka.group": "\(configuration.groupID)", "interlude.graphs": "\(registry.names)"])

        let drain = DrainSignal()
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await self.sweepLoop(every: self.configuration.sweepInterval) { try await self.fireDeadlines(relay: relay) } }
                group.addTask { await self.sweepLoop(every: self.configuration.outboxSweepInterval) { _ = try await relay.sweep() } }
                group.addTask { await self.sweepLoop(every: self.configuration.stallSweepInterval) { try await self.recoverStalled(relay: relay) } }
                group.addTask { await relay.markLoop(interval: .milliseconds(20)) }
                try await withGracefulShutdownHandler {
                    try await self.consume(consumer, lanes: lanes, letters: letters, relay: relay, drain: drain)
                } onGracefulShutdown: {
                    self.health.withLock { $0.draining = true }
                    lanes.stopIntake()
                    drain.start()
                }
                group.cancelAll()
            }
        } catch is CancellationError {
        } catch is GraceExpired {
            // The work still running was cancelled; its commands were not acknowledged, so the
            // partitions' next owner continues them. Still a graceful stop.
        } catch {
            logger.error("worker stopped with an error", metadata: ["error": "\(error)"])
            await shutdownClients(consumer: consumer, producers: [producer, letters], relay: relay)
            throw error
        }
        await shutdownClients(consumer: consumer, producers: [producer, letters], relay: relay)
        var totals: Logger.Metadata = ["interlude.processed": "\(stats.processed)"]
        if let roundTrips = store.roundTrips {
            metrics.postgresRoundTrips(total: roundTrips)
            totals["pg.round_trips"] = "\(roundTrips)"
        }
        logger.info("worker stopped", metadata: totals)
    }

    private func shutdownClients(consumer: KafkaConsumer, producers: [KafkaProducer], relay: OutboxRelay) async {
        await consumer.close()
        await relay.drain(timeout: .seconds(10))
        for producer in producers {
            do { try await producer.flush(timeout: .seconds(10)) } catch { logger.warning("events still unsent at shutdown; the outbox sweep sends them", metadata: ["error": "\(error)"]) }
            await producer.close()
        }
    }

    /// Routes consumer events to lanes and runs one task per partition lane, until the consumer
    /// closes. Draining closes the consumer once the batches in flight are done, or cancels
    /// them once the grace is over.
    private func consume(_ consumer: KafkaConsumer, lanes: Lanes, letters: KafkaProducer, relay: OutboxRelay, drain: DrainSignal) async throws {
        let grace = configuration.shutdownGrace
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                await drain.wait()
                try Task.checkCancellation()
                let deadline = ContinuousClock.now + grace
                while lanes.isBusy, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                if lanes.isBusy {
                    self.logger.warning("shutdown grace of \(grace) is over: cancelling the commands still running; their partitions' next owner continues them")
                    throw GraceExpired()
                }
                // Offsets of everything finished are stored: commit them, then leave the group.
                do { try await consumer.commit() } catch { self.logger.debug("offset commit before leaving", metadata: ["error": "\(error)"]) }
                await consumer.close()
            }
            // The events loop runs in a child task, not in the group's body: when the grace runs
            // out (the drain task throws), the group cancels its children only, and a body
            // waiting for the next event would wait forever (the consumer is still open and
            // may have nothing more to deliver). Cancelled, the loop's wait ends and the lanes
            // it started are cancelled with it.
            group.addTask {
                try await withThrowingDiscardingTaskGroup { laneTasks in
                    // Also when the events fail: lanes waiting for messages must end.
                    defer { lanes.closeAll() }
                    for try await event in consumer.events {
                        switch event {
                        case .message(let message):
                            lanes.route(message)
                        case .partitionsAssigned(let partitions):
                            self.logger.info("partitions assigned", metadata: ["kafka.partitions": "\(partitions)"])
                            self.health.withLock { $0.assignedPartitions += partitions.count; $0.joined = true }
                            self.metrics.assigned(partitions)
                            for partition in lanes.assign(partitions) {
                                laneTasks.addTask { await self.runLane(partition, lanes: lanes, letters: letters, relay: relay) }
                            }
                        case .messagesSkipped(let partition, let offsets):
                            self.metrics.messagesSkipped(topic: partition.topic, count: Int64(offsets.count))
                            self.logger.error(
                                "the broker deleted \(offsets.count) unread message\(offsets.count == 1 ? "" : "s") of \(partition) (offsets \(offsets.lowerBound) to \(offsets.upperBound - 1)) before this worker read them, and the consumer went on after them: those commands are lost. The topic's retention (retention.ms, retention.bytes) is shorter than the backlog took to drain: raise it, and send the lost commands again from their source (the ledger ignores any that were applied)",
                                metadata: ["kafka.topic": "\(partition.topic)", "kafka.partition": "\(partition.partition)", "kafka.offsets": "\(offsets.lowerBound)..<\(offsets.upperBound)"])
                        case .partitionsRevoked(let partitions), .partitionsLost(let partitions):
                            self.health.withLock { $0.assignedPartitions = max(0, $0.assignedPartitions - partitions.count) }
                            self.metrics.revoked(partitions)
                        }
                    }
                }
            }
        }
    }
}

/// Thrown inside the worker when the shutdown grace ran out: cancels the work still running.
struct GraceExpired: Error {}

/// The lanes, reachable from the rebalance callback that is created before them.
final class LanesBox: @unchecked Sendable {
    // @unchecked: written once, before the consumer can rebalance (the first assignment
    // needs a poll, which starts after the consumer exists), then only read.
    var lanes: Lanes?
}

/// A one-shot signal that the worker began draining.
package final class DrainSignal: Sendable {
    private struct State {
        var started = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Creates a signal not started yet.
    package init() {}

    /// Starts draining: every waiter returns.
    package func start() {
        let waiters = state.withLock { state in
            state.started = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once ``start()`` was called, or once the waiting task is cancelled (a worker
    /// whose consumer failed cancels its drain task, which must then end).
    package func wait() async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.started || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Whether a worker is taking work, for readiness probes.
public struct WorkerHealth: Sendable, Equatable {
    /// The worker joined its consumer group (got an assignment at least once).
    public var joined = false
    /// Partitions it owns now.
    public var assignedPartitions = 0
    /// Graceful shutdown began: it takes no new work.
    public var draining = false
    /// The last transient failure (store or broker unreachable) and when, until a command
    /// succeeds again.
    public var failing: String?

    /// Ready to take work.
    public var isReady: Bool { joined && !draining && failing == nil }
}

/// Counts of what a worker did.
public struct WorkerStats: Sendable {
    /// Commands applied.
    public var processed = 0
    /// Commands that were duplicates.
    public var duplicates = 0
    /// Commands refused.
    public var rejected = 0
    /// Runs parked after repeated failures.
    public var parked = 0
    /// Messages dead-lettered.
    public var deadLettered = 0
    /// Deadlines fired.
    public var expired = 0
    /// Stalled commands recovered by the stall sweep.
    public var recovered = 0

    mutating func count(_ result: ProcessResult) {
        switch result {
        case .applied: processed += 1
        case .duplicate: duplicates += 1
        case .rejected: rejected += 1
        case .parked: parked += 1
        case .deadLetter: deadLettered += 1
        }
    }
}
