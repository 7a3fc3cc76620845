internal import CRdKafka

/// The one error type thrown by `InterludeKafka`.
///
/// `description` names the operation, the topic or property and librdkafka's reason; it
/// never prints message keys, payloads or configuration values.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Compare against the static members; new codes may be
    /// added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Backing: Hashable, Sendable {
            case invalidConfiguration, clientCreation, messageDelivery, commitFailed
            case offsetStore, partitionControl, timedOut, topicCreation, metadata
            case closed, devCluster, consumerFailure
        }

        private let backing: Backing
        private init(_ backing: Backing) { self.backing = backing }

        /// librdkafka rejected a configuration property name or value.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// librdkafka could not create the client handle.
        public static let clientCreation = Code(.clientCreation)
        /// A produced message was not delivered (or could not be enqueued).
        public static let messageDelivery = Code(.messageDelivery)
        /// An offset commit failed (for example during a rebalance).
        public static let commitFailed = Code(.commitFailed)
        /// Storing an offset for a later commit failed (for example: partition not assigned).
        public static let offsetStore = Code(.offsetStore)
        /// Pausing or resuming partitions failed.
        public static let partitionControl = Code(.partitionControl)
        /// An operation did not finish within its timeout.
        public static let timedOut = Code(.timedOut)
        /// Creating a topic failed.
        public static let topicCreation = Code(.topicCreation)
        /// Fetching cluster metadata failed.
        public static let metadata = Code(.metadata)
        /// The client was already closed.
        public static let closed = Code(.closed)
        /// The embedded development cluster rejected an operation.
        public static let devCluster = Code(.devCluster)
        /// The consumer hit a fatal error and stopped delivering events.
        public static let consumerFailure = Code(.consumerFailure)

        /// The code's name, e.g. `commitFailed`.
        public var description: String { "\(backing)" }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human-readable explanation with context (operation, topic, property); no payloads.
    public var message: String
    /// librdkafka's error name (e.g. `REBALANCE_IN_PROGRESS`), when librdkafka reported one.
    public var underlyingErrorName: String?
    /// Whether retrying the same operation later may succeed.
    public var isRetriable: Bool
    /// Source file where the error was raised.
    public var file: String
    /// Source line where the error was raised.
    public var line: Int

    /// Creates an error.
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: Explanation with context; must not contain payloads or secrets.
    ///   - underlyingErrorName: librdkafka's error name, if any.
    ///   - isRetriable: Whether retrying may succeed. Default: false.
    public init(
        code: Code,
        message: String,
        underlyingErrorName: String? = nil,
        isRetriable: Bool = false,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.underlyingErrorName = underlyingErrorName
        self.isRetriable = isRetriable
        self.file = file
        self.line = line
    }

    /// `KafkaError.code: message (librdkafka: NAME) [retriable] at file:line`.
    public var description: String {
        var text = "KafkaError.\(code): \(message)"
        if let underlyingErrorName { text += " (librdkafka: \(underlyingErrorName))" }
        if isRetriable { text += " [retriable]" }
        return text + " at \(file):\(line)"
    }
}

extension KafkaError {
    /// Wraps a librdkafka response code, adding librdkafka's text to `message`.
    init(
        code: Code,
        message: String,
        rdError: rd_kafka_resp_err_t,
        file: String = #fileID,
        line: Int = #line
    ) {
        let reason = String(cString: rd_kafka_err2str(rdError))
        self.init(
            code: code,
            message: "\(message): \(reason)",
            underlyingErrorName: String(cString: rd_kafka_err2name(rdError)),
            isRetriable: KafkaError.retriableErrors.contains(rdError),
            file: file,
            line: line
        )
    }

    /// Wraps (and destroys) a librdkafka `rd_kafka_error_t`.
    init(
        code: Code,
        message: String,
        consuming error: OpaquePointer,
        file: String = #fileID,
        line: Int = #line
    ) {
        defer { rd_kafka_error_destroy(error) }
        let rdError = rd_kafka_error_code(error)
        self.init(
            code: code,
            message: "\(message): \(String(cString: rd_kafka_error_string(error)))",
            underlyingErrorName: String(cString: rd_kafka_err2name(rdError)),
            isRetriable: rd_kafka_error_is_retriable(error) != 0
                || KafkaError.retriableErrors.contains(rdError),
            file: file,
            line: line
        )
    }

    /// Response codes after which the same call may succeed later.
    static let retriableErrors: Set<rd_kafka_resp_err_t> = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
        RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__WAIT_COORD,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID,
        RD_KAFKA_RESP_ERR__STATE,
    ]
}
