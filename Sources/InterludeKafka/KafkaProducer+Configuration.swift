extension KafkaProducer {
    /// Settings for a `KafkaProducer`. The producer is always Java-compatible in its
    /// partitioning (`partitioner=murmur2_random`).
    public struct Configuration: Sendable {
        /// Comma-separated `host:port` list of brokers. Default: `"localhost:9092"`.
        public var bootstrapServers: String = "localhost:9092"
        /// The `client.id` reported to brokers. Default: `"interlude"`.
        public var clientID: String = "interlude"
        /// Idempotent producing (`enable.idempotence`): retries never duplicate or reorder
        /// messages of a partition. Default: `true`.
        public var enableIdempotence: Bool = true
        /// How long librdkafka keeps retrying a message before its `send` fails
        /// (`message.timeout.ms`). Default: 300 seconds.
        public var messageTimeout: Duration = .seconds(300)
        /// How long librdkafka waits to fill a batch (`linger.ms`). Under load batches fill
        /// anyway; a quiet producer sends each message after this. Default: 1 millisecond.
        public var linger: Duration = .milliseconds(1)
        /// How long each poll of the producer's thread waits; bounds how quickly `close()`
        /// returns. Default: 100 milliseconds.
        public var pollInterval: Duration = .milliseconds(100)
        /// Raw librdkafka properties (TLS, SASL, tuning), applied before the typed settings
        /// above, which win on conflict. Default: empty.
        public var librdkafkaProperties: [String: String] = [:]

        /// Creates a configuration with every default.
        public init() {}

        /// Creates a configuration pointing at `bootstrapServers`, with other defaults.
        public init(bootstrapServers: String) {
            self.bootstrapServers = bootstrapServers
        }

        var properties: [(String, String)] {
            librdkafkaProperties.sorted { $0.key < $1.key } + [
                ("bootstrap.servers", bootstrapServers),
                ("client.id", clientID),
                ("enable.idempotence", enableIdempotence ? "true" : "false"),
                ("partitioner", "murmur2_random"),
                ("message.timeout.ms", "\(messageTimeout.milliseconds)"),
                ("linger.ms", "\(linger.milliseconds)"),
            ]
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, clamped to `Int32` for librdkafka's `int` arguments.
    var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, total))
    }
}
