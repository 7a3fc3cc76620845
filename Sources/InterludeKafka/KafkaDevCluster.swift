import Logging
internal import CRdKafka

/// An in-process Kafka cluster for development and tests, built on librdkafka's mock
/// cluster: real Kafka protocol on loopback TCP ports, usable from other processes through
/// ``bootstrapServers``. It lives as long as this object; nothing is persisted.
///
/// The mock cluster does not implement the CreateTopics API: create topics with
/// ``createTopics(_:)``. Fault injection (broker down/up, request errors, round-trip time)
/// is available for tests. Its methods hand a request to the mock cluster's own thread and
/// wait briefly for its answer.
public final class KafkaDevCluster: Sendable {
    /// The `host:port,...` list clients (in any process) use to connect.
    public let bootstrapServers: String
    /// The ids of the cluster's brokers (`1...brokerCount`).
    public let brokerIDs: ClosedRange<Int32>

    private let cluster: RDKafkaMockCluster

    /// Starts a cluster of `brokers` brokers on loopback ports chosen by the OS.
    /// - Parameters:
    ///   - brokers: How many brokers. Default: 1.
    ///   - logger: Receives librdkafka's logs of the owning client.
    /// - Throws: ``KafkaError`` with code `devCluster` if librdkafka cannot start it.
    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        self.cluster = try RDKafkaMockCluster(brokers: Int32(brokers), logger: logger)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster.handle))
        self.brokerIDs = 1...Int32(brokers)
    }

    /// Creates topics; existing topics are left unchanged and are not an error.
    /// `retention` is ignored (the mock cluster keeps everything in memory).
    /// - Throws: ``KafkaError`` with code `devCluster` naming the topic.
    public func createTopics(_ topics: [KafkaTopicSpec]) throws(KafkaError) {
        for topic in topics {
            let result = rd_kafka_mock_topic_create(
                cluster.handle, topic.name, topic.partitions, Int32(topic.replicationFactor))
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR || result == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else {
                throw KafkaError(code: .devCluster, message: "creating topic '\(topic.name)'", rdError: result)
            }
        }
    }

    /// Disconnects `broker` and refuses new connections until ``setBrokerUp(_:)``.
    /// Partition leadership does not move.
    public func setBrokerDown(_ broker: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_down(cluster.handle, broker), "setting broker \(broker) down")
    }

    /// Lets `broker` accept connections again.
    public func setBrokerUp(_ broker: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_up(cluster.handle, broker), "setting broker \(broker) up")
    }

    /// Delays every response of `broker` (all brokers when `nil`) by `roundTripTime`.
    public func setRoundTripTime(_ roundTripTime: Duration, broker: Int32? = nil) throws(KafkaError) {
        try check(
            rd_kafka_mock_broker_set_rtt(cluster.handle, broker ?? -1, Int32(roundTripTime.milliseconds)),
            "setting the round-trip time")
    }

    /// Makes the next `errors.count` requests of type `apiKey` (on any broker) fail with
    /// these errors, in order.
    public func injectRequestErrors(_ errors: [ProtocolError], for apiKey: APIKey) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.code) }
        rd_kafka_mock_push_request_errors_array(cluster.handle, apiKey.rawValue, codes.count, codes)
    }

    /// Removes errors injected for `apiKey` that were not used yet.
    public func clearRequestErrors(for apiKey: APIKey) {
        rd_kafka_mock_clear_request_errors(cluster.handle, apiKey.rawValue)
    }

    private func check(_ result: rd_kafka_resp_err_t, _ action: String) throws(KafkaError) {
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code: .devCluster, message: action, rdError: result)
        }
    }
}

extension KafkaDevCluster {
    /// A Kafka protocol request type, for fault injection.
    public struct APIKey: Hashable, Sendable {
        /// The Kafka protocol API key number.
        public let rawValue: Int16
        /// Creates a key from its protocol number.
        public init(rawValue: Int16) { self.rawValue = rawValue }

        /// ProduceRequest.
        public static let produce = APIKey(rawValue: 0)
        /// FetchRequest.
        public static let fetch = APIKey(rawValue: 1)
        /// MetadataRequest.
        public static let metadata = APIKey(rawValue: 3)
        /// OffsetCommitRequest.
        public static let offsetCommit = APIKey(rawValue: 8)
        /// OffsetFetchRequest.
        public static let offsetFetch = APIKey(rawValue: 9)
        /// JoinGroupRequest.
        public static let joinGroup = APIKey(rawValue: 11)
        /// HeartbeatRequest.
        public static let heartbeat = APIKey(rawValue: 12)
        /// SyncGroupRequest.
        public static let syncGroup = APIKey(rawValue: 14)
        /// InitProducerIdRequest.
        public static let initProducerID = APIKey(rawValue: 22)
    }

    /// A Kafka protocol error a mock broker can answer with.
    public struct ProtocolError: Hashable, Sendable {
        /// The Kafka (or librdkafka-local, negative) error code.
        public let code: Int32
        /// Creates an error from its code.
        public init(code: Int32) { self.code = code }

        /// The broker drops the connection instead of answering.
        public static let disconnect = ProtocolError(code: -195)
        /// LEADER_NOT_AVAILABLE (retriable).
        public static let leaderNotAvailable = ProtocolError(code: 5)
        /// NOT_LEADER_FOR_PARTITION (retriable).
        public static let notLeaderForPartition = ProtocolError(code: 6)
        /// REQUEST_TIMED_OUT (retriable).
        public static let requestTimedOut = ProtocolError(code: 7)
        /// NOT_ENOUGH_REPLICAS (retriable).
        public static let notEnoughReplicas = ProtocolError(code: 19)
        /// NOT_ENOUGH_REPLICAS_AFTER_APPEND (retriable; the write may have happened).
        public static let notEnoughReplicasAfterAppend = ProtocolError(code: 20)
        /// REBALANCE_IN_PROGRESS.
        public static let rebalanceInProgress = ProtocolError(code: 27)
    }
}

/// Owns a librdkafka mock cluster and the `rd_kafka_t` it is attached to; destroys both in
/// `deinit` (cluster first).
///
/// `@unchecked Sendable`: both handles are immutable after `init`; mock-cluster functions
/// post requests to the cluster's own thread, so they may be called from any thread.
final class RDKafkaMockCluster: @unchecked Sendable {
    let handle: OpaquePointer
    private let owner: RDKafkaClient

    init(brokers: Int32, logger: Logger) throws(KafkaError) {
        owner = try RDKafkaClient(
            kind: .producer,
            properties: [("client.id", "interlude-dev-cluster"), ("log_level", "3")],
            context: RDKafkaCallbackContext(logger: logger))
        guard let handle = rd_kafka_mock_cluster_new(owner.handle, brokers) else {
            throw KafkaError(code: .devCluster, message: "librdkafka could not start a mock cluster of \(brokers) brokers")
        }
        self.handle = handle
    }

    deinit {
        rd_kafka_mock_cluster_destroy(handle)
    }
}
