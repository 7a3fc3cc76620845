import Foundation
import Interlude
import InterludeKafka
import Logging
import ServiceLifecycle
import Synchronization

/// A stateless worker: consumes `run` and `resume` commands, applies them to threads
/// through the checkpointer, publishes the resulting events, and fires interrupt deadlines.
///
/// Run it in a `ServiceGroup`; on graceful shutdown (SIGTERM) it stops taking messages,
/// finishes the commands in flight, commits their offsets, leaves the group and returns.
/// Scale by running more workers with the same group id: Kafka splits the partitions, the
/// message key (thread id) keeps a thread on one partition, and the thread version fences
/// any worker that lost its partition in the middle of a step.
public final class Worker: Service, Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        /// Kafka bootstrap servers. Default: `localhost:9092`.
        public var bootstrapServers = "localhost:9092"
        /// Consumer group id. Default: `interlude.workers`.
        public var groupID = "interlude.workers"
        /// Static membership id (`group.instance.id`). Default: none.
        public var groupInstanceID: String?
        /// Topic names. Default: prefix `interlude.`.
        public var topics = TopicNames()
        /// How long the group waits for a silent member before giving its partitions away.
        /// Default: 10 seconds (librdkafka's mock cluster stalls a re-join for about this long).
        public var sessionTimeout: Duration = .seconds(10)
        /// How long a fetch waits for data on a quiet partition (librdkafka `fetch.wait.max.ms`).
        /// Real brokers answer as soon as data arrives; librdkafka's mock cluster always waits
        /// this long, so it bounds latency there. Default: 10 ms.
        public var fetchWaitMax: Duration = .milliseconds(10)
        /// Raw librdkafka properties for every client (TLS, SASL, tuning). Default: none.
        public var kafkaProperties: [String: String] = [:]
        /// Command processing settings.
        public var processing = CommandProcessor.Configuration()
        /// How often deadlines and leftover outbox rows are swept. Default: 1 second.
        public var sweepInterval: Duration = .seconds(1)
        /// Messages buffered per partition before the partition is paused. Default: 256.
        public var partitionBuffer = 256
        /// The largest message accepted; larger ones are dead-lettered. Default: 1 MiB.
        public var maxMessageBytes = 1 << 20

        /// Default settings.
        public init() {}
    }

    let configuration: Configuration
    let registry: GraphRegistry
    let checkpointer: any Checkpointer
    let logger: Logger
    let processor: CommandProcessor
    private let counters = Mutex<WorkerStats>(WorkerStats())

    /// Creates a worker.
    public init(configuration: Configuration, registry: GraphRegistry, checkpointer: any Checkpointer, logger: Logger) {
        var configuration = configuration
        configuration.processing.topics = configuration.topics
        self.configuration = configuration
        self.registry = registry
        self.checkpointer = checkpointer
        self.logger = logger
        self.processor = CommandProcessor(registry: registry, checkpointer: checkpointer, configuration: configuration.processing, logger: logger)
    }

    /// What the worker did so far.
    public var stats: WorkerStats { counters.withLock { $0 } }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        var producerConfig = KafkaProducer.Configuration(bootstrapServers: configuration.bootstrapServers)
        producerConfig.librdkafkaProperties = configuration.kafkaProperties
        let producer = try KafkaProducer(configuration: producerConfig, logger: logger)
        var consumerConfig = KafkaConsumer.Configuration(bootstrapServers: configuration.bootstrapServers, groupID: configuration.groupID)
        consumerConfig.groupInstanceID = configuration.groupInstanceID
        consumerConfig.sessionTimeout = configuration.sessionTimeout
        consumerConfig.librdkafkaProperties = configuration.kafkaProperties
        consumerConfig.librdkafkaProperties["fetch.wait.max.ms"] = consumerConfig.librdkafkaProperties["fetch.wait.max.ms"]
            ?? String(configuration.fetchWaitMax.components.seconds * 1000 + configuration.fetchWaitMax.components.attoseconds / 1_000_000_000_000_000)
        let consumer = try KafkaConsumer(topics: [configuration.topics.runs, configuration.topics.resumes], configuration: consumerConfig, logger: logger)
        let relay = OutboxRelay(checkpointer: checkpointer, producer: producer, logger: logger)
        logger.info("worker started", metadata: ["kafka.group": "\(configuration.groupID)", "interlude.graphs": "\(registry.names)"])

        // Graceful shutdown cancels the loops: the command in flight finishes (the runtime does
        // not stop a step half-way), queued messages stay unacknowledged for the next owner.
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { await self.sweepLoop(relay: relay) }
                    group.addTask { await relay.markLoop(interval: .milliseconds(20)) }
                    try await self.consume(consumer, producer: producer, relay: relay)
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
        } catch {
            logger.error("consumer stopped", metadata: ["error": "\(error)"])
            throw error
        }
        try? await relay.flushMarks()
        try? await consumer.commit()
        await consumer.close()
        try? await producer.flush(timeout: .seconds(10))
        await producer.close()
        logger.info("worker stopped", metadata: ["interlude.processed": "\(stats.processed)"])
    }

    private func consume(_ consumer: KafkaConsumer, producer: KafkaProducer, relay: OutboxRelay) async throws {
        let lanes = Lanes(buffer: configuration.partitionBuffer, consumer: consumer, logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            for try await event in consumer.events {
                switch event {
                case .message(let message):
                    if let lane = lanes.route(message) {
                        group.addTask {
                            for await message in lane.messages {
                                await self.handle(message, consumer: consumer, producer: producer, relay: relay)
                                lanes.done(message.topicPartition)
                            }
                        }
                    }
                case .partitionsRevoked(let partitions), .partitionsLost(let partitions):
                    lanes.close(partitions)
                case .partitionsAssigned:
                    break
                }
            }
            lanes.closeAll()
        }
    }

    /// Processes one message to the end: applied, refused or dead-lettered, then its offset
    /// is stored. A failure that is not the message's fault (storage down) is retried with
    /// backoff and never skipped.
    func handle(_ message: KafkaMessage, consumer: KafkaConsumer, producer: KafkaProducer, relay: OutboxRelay) async {
        var delay: Duration = .milliseconds(50)
        while !Task.isCancelled {
            do {
                switch CommandDecoder(maxBytes: configuration.maxMessageBytes).decode(message.value) {
                case .failure(let reason):
                    try await deadLetter(message, reason: reason, producer: producer)
                case .success(let command):
                    let processed = try await processor.processCollecting(command, topic: message.topic)
                    if case .deadLetter(let reason) = processed.result {
                        try await deadLetter(message, reason: reason, producer: producer)
                    } else {
                        counters.withLock { $0.count(processed.result) }
                        do { try await relay.publish(processed.outbox) } catch {
                            logger.warning("publishing events failed; the sweep retries", metadata: ["error": "\(error)"])
                        }
                    }
                }
                do { try consumer.storeOffset(of: message) } catch {
                    // The partition was taken away meanwhile; its new owner redelivers, and
                    // the ledger makes that harmless.
                    logger.debug("offset not stored", metadata: ["kafka.topic": "\(message.topic)", "kafka.partition": "\(message.partition)", "error": "\(error)"])
                }
                return
            } catch {
                logger.warning("command failed; retrying", metadata: ["kafka.topic": "\(message.topic)", "kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func deadLetter(_ message: KafkaMessage, reason: DeadLetterReason, producer: KafkaProducer) async throws {
        let key = message.key.map { String(decoding: $0, as: UTF8.self) }
        let letter = EventMessages.deadLetter(original: message.value, topic: message.topic, partition: message.partition, offset: message.offset, key: key, reason: reason, at: Date())
        _ = try await producer.send(topic: configuration.topics.dlq, key: message.key, value: Array(letter.jsonData))
        counters.withLock { $0.deadLettered += 1 }
        logger.info("dead-lettered", metadata: ["kafka.topic": "\(message.topic)", "kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)", "interlude.reason": "\(reason.code)"])
    }

    /// Fires due deadlines and publishes leftover outbox rows, every sweep interval.
    private func sweepLoop(relay: OutboxRelay) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.sweepInterval)
            } catch { return }
            do {
                try await fireDeadlines(relay: relay)
                try await relay.sweep()
            } catch {
                logger.warning("sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Applies every passed deadline. Any worker may do it: the thread version decides who
    /// wins, and the loser finds nothing due any more.
    public func fireDeadlines(relay: OutboxRelay?, now: Date = Date()) async throws {
        let due = try await checkpointer.dueInterrupts(at: now, limit: 100)
        for thread in Set(due.map(\.threadID)) {
            guard let record = try await checkpointer.thread(thread), let graph = registry.graph(named: record.graph.name) else { continue }
            let staging = OutboxStaging()
            var config = RunConfig(durability: configuration.processing.durability, actor: "timeout")
            config.commitHook = processor.hook(for: nil, graph: graph.identity, ledger: false, staging: staging)
            do {
                _ = try await graph.expire(thread, now, config)
                counters.withLock { $0.expired += 1 }
                if let relay { try await relay.publish(staging.rows) }
            } catch let error as GraphError where error.code == .threadVersionConflict {
                continue
            }
        }
    }
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
