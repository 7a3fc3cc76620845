/// A topic to create: name, partitions, replication and retention.
public struct KafkaTopicSpec: Hashable, Sendable {
    /// The topic name.
    public var name: String
    /// The number of partitions. Default: 12.
    public var partitions: Int32
    /// The number of replicas of each partition. Default: 1.
    public var replicationFactor: Int16
    /// How long messages are kept (`retention.ms`); `nil` keeps the broker's default.
    /// Default: `nil`.
    public var retention: Duration?

    /// Creates a topic specification.
    public init(name: String, partitions: Int32 = 12, replicationFactor: Int16 = 1, retention: Duration? = nil) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.retention = retention
    }
}

/// What creating a topic did.
public enum KafkaTopicCreation: Hashable, Sendable {
    /// The topic was created.
    case created
    /// The topic already existed; it was left unchanged.
    case alreadyExisted
}

/// A topic as the cluster's metadata describes it.
public struct KafkaTopicMetadata: Hashable, Sendable {
    /// The topic name.
    public var name: String
    /// How many partitions it has.
    public var partitionCount: Int

    /// Creates a metadata value.
    public init(name: String, partitionCount: Int) {
        self.name = name
        self.partitionCount = partitionCount
    }
}
