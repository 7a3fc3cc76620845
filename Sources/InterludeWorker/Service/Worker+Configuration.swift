import Foundation
import Interlude
import InterludeKafka

extension Worker {
    /// Settings of a worker; each property says its default. ``init(environment:)`` reads them
    /// from `INTERLUDE_*` variables (see docs/configuration.md).
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
        /// Default: 10 seconds.
        public var sessionTimeout: Duration = .seconds(10)
        /// How long a fetch waits for data on a quiet partition (librdkafka `fetch.wait.max.ms`).
        /// Real brokers answer as soon as data arrives; librdkafka's mock cluster always waits
        /// this long, so it bounds latency there. Default: 5 ms (an idle consumer polls the
        /// broker about 200 times a second; 1 ms is the low-latency profile).
        public var fetchWaitMax: Duration = .milliseconds(5)
        /// How long the producer waits to fill a batch (librdkafka `linger.ms`). Under load
        /// batches fill anyway; a quiet worker sends each event after this. Default: 1 ms
        /// (0 is the low-latency profile).
        public var linger: Duration = .milliseconds(1)
        /// Raw librdkafka properties for every client (TLS, SASL, tuning). Default: none.
        public var kafkaProperties: [String: String] = [:]
        /// Command processing settings (attempts, batch size, durability).
        public var processing = CommandProcessor.Configuration()
        /// How often due deadlines are claimed and fired. Default: 1 second.
        public var sweepInterval: Duration = .seconds(1)
        /// How often outbox rows left unpublished (by a worker that died) are sent. Default: 1 second.
        public var outboxSweepInterval: Duration = .seconds(1)
        /// How long a claimed deadline is this worker's before another may fire it. Default: 30 seconds.
        public var deadlineLease: Duration = .seconds(30)
        /// Failed attempts to fire a deadline before its thread is parked. Default: 5.
        public var deadlineAttempts = 5
        /// How often commands left part-way are looked for. Default: 30 seconds.
        public var stallSweepInterval: Duration = .seconds(30)
        /// How long a command may stay part-way (`started`) with no progress before the stall
        /// sweep continues it. Default: 10 minutes.
        public var stallTimeout: Duration = .seconds(600)
        /// Stall-sweep attempts before the command's thread is parked. Default: 3.
        public var stallAttempts = 3
        /// Messages buffered per partition before the partition is paused. Default: 256.
        public var partitionBuffer = 256
        /// The largest message accepted; larger ones are dead-lettered. Default: 1 MiB.
        public var maxMessageBytes = 1 << 20
        /// Attempts for a command whose failure is its own (PostgreSQL refuses its data)
        /// before it is dead-lettered with the reason. Default: 3.
        public var poisonAttempts = 3
        /// On graceful shutdown, how long commands in flight may take to finish before they
        /// are cancelled (and continued by the partition's next owner). Default: 30 seconds.
        public var shutdownGrace: Duration = .seconds(30)
        /// On an orderly revocation, how long the rebalance waits for the revoked partitions'
        /// commands in flight. Default: 20 seconds.
        public var revokeTimeout: Duration = .seconds(20)

        /// Default settings.
        public init() {}

        /// The producer's settings.
        public var producerConfiguration: KafkaProducer.Configuration {
            var configuration = KafkaProducer.Configuration(bootstrapServers: bootstrapServers)
            configuration.librdkafkaProperties = kafkaProperties
            configuration.linger = linger
            return configuration
        }

        /// The settings of the producer that sends dead letters: those of
        /// ``producerConfiguration`` with `linger.ms` 0. A dead letter is awaited before its
        /// offset is stored, and several of one key go one after another, so waiting to fill a
        /// batch would hold up its partition: 2,000 undecodable messages with one key took
        /// 1.48 ms each with `linger.ms` 1 and 0.25-0.48 ms with 0 (BENCHMARKS.md, tenth round).
        public var deadLetterProducerConfiguration: KafkaProducer.Configuration {
            var configuration = producerConfiguration
            configuration.linger = .zero
            return configuration
        }

        /// The consumer's settings.
        public var consumerConfiguration: KafkaConsumer.Configuration {
            var configuration = KafkaConsumer.Configuration(bootstrapServers: bootstrapServers, groupID: groupID)
            configuration.groupInstanceID = groupInstanceID
            configuration.sessionTimeout = sessionTimeout
            configuration.librdkafkaProperties = kafkaProperties
            configuration.librdkafkaProperties["fetch.wait.max.ms"] = kafkaProperties["fetch.wait.max.ms"] ?? "\(fetchWaitMax.wholeMilliseconds)"
            return configuration
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

extension Duration {
    /// The duration in seconds.
    var timeInterval: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
