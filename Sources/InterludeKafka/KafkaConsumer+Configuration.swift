extension KafkaConsumer {
    /// Where a new consumer group starts reading a partition that has no committed offset.
    public struct OffsetReset: Hashable, Sendable {
        let value: String
        /// From the oldest retained message.
        public static let earliest = OffsetReset(value: "earliest")
        /// From the next message produced.
        public static let latest = OffsetReset(value: "latest")
    }

    /// Settings for a ``KafkaConsumer``. The group always uses the cooperative-sticky
    /// assignor and auto-commits only offsets stored with ``KafkaConsumer/storeOffset(topic:partition:offset:)``
    /// (`enable.auto.commit=true`, `enable.auto.offset.store=false`).
    public struct Configuration: Sendable {
        /// Comma-separated `host:port` list of brokers. Default: `"localhost:9092"`.
        public var bootstrapServers: String = "localhost:9092"
        /// The `client.id` reported to brokers. Default: `"interlude"`.
        public var clientID: String = "interlude"
        /// The consumer group (`group.id`). Default: `"interlude.workers"`.
        public var groupID: String = "interlude.workers"
        /// Static membership id (`group.instance.id`): a restarted member with the same id
        /// gets its partitions back without a rebalance. Default: `nil` (dynamic membership).
        public var groupInstanceID: String? = nil
        /// How long the group waits for a silent member before reassigning its partitions
        /// (`session.timeout.ms`). Default: 45 seconds.
        public var sessionTimeout: Duration = .seconds(45)
        /// The longest time between two polls before the member is evicted
        /// (`max.poll.interval.ms`). The polling thread polls continuously, so this only
        /// fires when the thread is stuck. Default: 300 seconds.
        public var maxPollInterval: Duration = .seconds(300)
        /// How often stored offsets are committed in the background
        /// (`auto.commit.interval.ms`). Default: 5 seconds.
        public var autoCommitInterval: Duration = .seconds(5)
        /// Where to start without a committed offset (`auto.offset.reset`). Default: `.earliest`.
        public var offsetReset: OffsetReset = .earliest
        /// How many messages may wait unread in ``KafkaConsumer/events`` before the polling
        /// thread holds its polls (until the reader took half, or for one `pollInterval` at a
        /// time, so it stays in the group); librdkafka's own prefetch is bounded by
        /// `queued.min.messages` and `queued.max.messages.kbytes`. Default: 1000.
        public var maxBufferedMessages: Int = 1000
        /// How long each poll of the consumer's thread waits; bounds how quickly `close()`
        /// starts leaving the group. Default: 100 milliseconds.
        public var pollInterval: Duration = .milliseconds(100)
        /// Raw librdkafka properties (TLS, SASL, tuning), applied before the typed settings
        /// above, which win on conflict. Default: empty.
        public var librdkafkaProperties: [String: String] = [:]

        /// Creates a configuration with every default.
        public init() {}

        /// Creates a configuration for `groupID` at `bootstrapServers`, with other defaults.
        public init(bootstrapServers: String, groupID: String) {
            self.bootstrapServers = bootstrapServers
            self.groupID = groupID
        }

        var properties: [(String, String)] {
            var typed: [(String, String)] = [
                ("bootstrap.servers", bootstrapServers),
                ("client.id", clientID),
                ("group.id", groupID),
                ("partition.assignment.strategy", "cooperative-sticky"),
                ("enable.auto.commit", "true"),
                ("enable.auto.offset.store", "false"),
                ("auto.commit.interval.ms", "\(autoCommitInterval.milliseconds)"),
                ("session.timeout.ms", "\(sessionTimeout.milliseconds)"),
                ("max.poll.interval.ms", "\(maxPollInterval.milliseconds)"),
                ("auto.offset.reset", offsetReset.value),
            ]
            if let groupInstanceID { typed.append(("group.instance.id", groupInstanceID)) }
            return librdkafkaProperties.sorted { $0.key < $1.key } + typed
        }
    }
}
