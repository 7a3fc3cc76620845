/// A message header: a name and optional bytes.
public struct KafkaHeader: Hashable, Sendable {
    /// The header name.
    public var name: String
    /// The header value; `nil` is a null header.
    public var value: [UInt8]?

    /// Creates a header.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }
}

/// A message read by a `KafkaConsumer`, copied out of librdkafka.
public struct KafkaMessage: Hashable, Sendable {
    /// The topic it was read from.
    public var topic: String
    /// The partition it was read from.
    public var partition: Int32
    /// Its offset in the partition.
    public var offset: Int64
    /// The key bytes, or `nil` for a null key.
    public var key: [UInt8]?
    /// The value bytes (empty for a null value).
    public var value: [UInt8]
    /// The headers, in order.
    public var headers: [KafkaHeader]
    /// The message timestamp in milliseconds since the Unix epoch, if the broker set one.
    public var timestampMilliseconds: Int64?

    /// Creates a message value (useful in tests of code that consumes messages).
    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8],
        headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The topic and partition the message came from.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

/// A message to produce.
public struct KafkaProducerRecord: Hashable, Sendable {
    /// The destination topic.
    public var topic: String
    /// The key bytes; the partition is chosen from it (Java-compatible murmur2).
    public var key: [UInt8]?
    /// The value bytes.
    public var value: [UInt8]
    /// The headers, in order.
    public var headers: [KafkaHeader]

    /// Creates a record.
    public init(topic: String, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = []) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Where the broker stored a produced message.
public struct DeliveryReport: Hashable, Sendable {
    /// The topic.
    public var topic: String
    /// The partition chosen by the partitioner.
    public var partition: Int32
    /// The offset assigned by the broker.
    public var offset: Int64

    /// Creates a report.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}
