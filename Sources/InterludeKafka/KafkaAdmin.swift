import Logging
internal import CRdKafka

/// Creates topics and reads cluster metadata. Every call waits on a dedicated thread.
public final class KafkaAdmin: Sendable {
    /// Settings for a ``KafkaAdmin``.
    public struct Configuration: Sendable {
        /// Comma-separated `host:port` list of brokers. Default: `"localhost:9092"`.
        public var bootstrapServers: String = "localhost:9092"
        /// The `client.id` reported to brokers. Default: `"interlude-admin"`.
        public var clientID: String = "interlude-admin"
        /// How long one admin request or metadata fetch may take. Default: 30 seconds.
        public var requestTimeout: Duration = .seconds(30)
        /// Raw librdkafka properties (TLS, SASL), applied before the typed settings above.
        /// Default: empty.
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
            ]
        }
    }

    private let client: RDKafkaClient
    private let timeout: Duration

    /// Creates an admin client.
    /// - Throws: ``KafkaError`` with code `invalidConfiguration` or `clientCreation`.
    public init(configuration: Configuration, logger: Logger) throws(KafkaError) {
        self.client = try RDKafkaClient(
            kind: .producer, properties: configuration.properties,
            context: RDKafkaCallbackContext(logger: logger))
        self.timeout = configuration.requestTimeout
    }

    /// Creates the topics that do not exist yet; existing topics are left unchanged and are
    /// not an error, so this is safe at every start-up.
    ///
    /// Topics already listed in the cluster metadata are not sent to the broker at all, so
    /// start-up needs no topic-creation permission once the topics exist, and works against
    /// librdkafka's mock cluster (which lacks the CreateTopics API: create topics there with
    /// ``KafkaDevCluster/createTopics(_:)``).
    /// - Returns: For each topic name, whether it was created or already existed.
    /// - Throws: ``KafkaError`` with code `topicCreation` (or `timedOut`) naming the topics.
    public func createTopics(_ topics: [KafkaTopicSpec]) async throws(KafkaError) -> [String: KafkaTopicCreation] {
        let existing = Set(try await listTopics().map(\.name))
        var outcomes: [String: KafkaTopicCreation] = [:]
        for topic in topics where existing.contains(topic.name) { outcomes[topic.name] = .alreadyExisted }
        let missing = topics.filter { !existing.contains($0.name) }
        guard !missing.isEmpty else { return outcomes }
        let client = self.client
        let timeout = self.timeout
        let created = try await RDKafkaClient.runBlocking(name: "interlude.kafka.admin") {
            () throws(KafkaError) in try KafkaAdmin.create(missing, client: client, timeout: timeout)
        }
        return outcomes.merging(created) { _, new in new }
    }

    /// Lists the cluster's topics with their partition counts.
    /// - Throws: ``KafkaError`` with code `metadata`.
    public func listTopics() async throws(KafkaError) -> [KafkaTopicMetadata] {
        let client = self.client
        let timeout = self.timeout
        return try await RDKafkaClient.runBlocking(name: "interlude.kafka.metadata") { () throws(KafkaError) in
            var metadata: UnsafePointer<rd_kafka_metadata>? = nil
            let result = rd_kafka_metadata(client.handle, 1, nil, &metadata, timeout.milliseconds)
            guard result == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                throw KafkaError(code: .metadata, message: "fetching cluster metadata", rdError: result)
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
            return topics.filter { $0.err == RD_KAFKA_RESP_ERR_NO_ERROR }.map {
                KafkaTopicMetadata(name: String(cString: $0.topic), partitionCount: Int($0.partition_cnt))
            }.sorted { $0.name < $1.name }
        }
    }

    /// Runs CreateTopics and waits for its result; blocking, so only on a dedicated thread.
    private static func create(
        _ topics: [KafkaTopicSpec], client: RDKafkaClient, timeout: Duration
    ) throws(KafkaError) -> [String: KafkaTopicCreation] {
        let rk = client.handle
        let names = topics.map(\.name)
        defer { rd_kafka_poll(rk, 0) }  // serve logs and errors queued on the main queue
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { newTopics.withUnsafeMutableBufferPointer { rd_kafka_NewTopic_destroy_array($0.baseAddress, $0.count) } }
        for topic in topics {
            guard let newTopic = rd_kafka_NewTopic_new(
                topic.name, topic.partitions, Int32(topic.replicationFactor), &errstr, errstr.count)
            else {
                throw KafkaError(
                    code: .topicCreation, message: "topic '\(topic.name)': \(errstr.nullTerminatedString)")
            }
            newTopics.append(newTopic)
            if let retention = topic.retention {
                let result = rd_kafka_NewTopic_set_config(newTopic, "retention.ms", "\(retention.milliseconds)")
                guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(code: .topicCreation, message: "topic '\(topic.name)' retention.ms", rdError: result)
                }
            }
        }
        let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, &errstr, errstr.count)
        let queue = rd_kafka_queue_new(rk)
        defer { rd_kafka_queue_destroy(queue) }
        newTopics.withUnsafeMutableBufferPointer {
            rd_kafka_CreateTopics(rk, $0.baseAddress, $0.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds * 2) else {
            throw KafkaError(
                code: .timedOut, message: "creating topics \(names): no answer within \(timeout)", isRetriable: true)
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(code: .topicCreation, message: "creating topics \(names)", rdError: eventError)
        }
        var count = 0
        let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
        var outcomes: [String: KafkaTopicCreation] = [:]
        for result in UnsafeBufferPointer(start: results, count: count) {
            let name = String(cString: rd_kafka_topic_result_name(result))
            switch rd_kafka_topic_result_error(result) {
            case RD_KAFKA_RESP_ERR_NO_ERROR: outcomes[name] = .created
            case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: outcomes[name] = .alreadyExisted
            case let error:
                throw KafkaError(code: .topicCreation, message: "creating topic '\(name)'", rdError: error)
            }
        }
        return outcomes
    }
}
