import Logging
internal import CRdKafka

/// The context librdkafka hands back to C callbacks via `rd_kafka_conf_set_opaque`.
///
/// C callbacks cannot capture, so everything they need lives here. All stored properties are
/// immutable and `Sendable` (their own state sits in a `Mutex`), so the class is `Sendable`.
final class RDKafkaCallbackContext: Sendable {
    let logger: Logger
    let delivery: ProducerDeliveryTracker?
    let consumerEvents: ConsumerEventSink?
    let revocation: KafkaConsumer.RevocationHandler?

    init(
        logger: Logger,
        delivery: ProducerDeliveryTracker? = nil,
        consumerEvents: ConsumerEventSink? = nil,
        revocation: KafkaConsumer.RevocationHandler? = nil
    ) {
        self.logger = logger
        self.delivery = delivery
        self.consumerEvents = consumerEvents
        self.revocation = revocation
    }

    /// The context registered for `rk`; valid while the `RDKafkaClient` lives.
    static func of(_ rk: OpaquePointer?) -> RDKafkaCallbackContext? {
        guard let rk, let opaque = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// Owns one `rd_kafka_t` handle and destroys it in `deinit`.
///
/// `@unchecked Sendable`: librdkafka documents `rd_kafka_t` as thread-safe, the handle is
/// immutable after `init`, and the callback context it points to is `Sendable` and retained
/// by this object for as long as the handle exists.
final class RDKafkaClient: @unchecked Sendable {
    enum Kind {
        case producer, consumer

        var rdType: rd_kafka_type_t { self == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER }
    }

    let handle: OpaquePointer
    let context: RDKafkaCallbackContext

    /// Creates a client from ordered properties (later entries override earlier ones).
    /// - Parameter configure: Installs callbacks on the raw `rd_kafka_conf_t`.
    init(
        kind: Kind,
        properties: [(String, String)],
        context: RDKafkaCallbackContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        let conf = try RDKafkaClient.makeConf(properties)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, text in
            RDKafkaClient.log(rk: rk, level: level, facility: facility, text: text)
        }
        rd_kafka_conf_set_error_cb(conf) { rk, error, reason, _ in
            RDKafkaClient.reportError(rk: rk, error: rd_kafka_resp_err_t(rawValue: error), reason: reason)
        }
        configure(conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(kind.rdType, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)  // rd_kafka_new owns conf only on success
            throw KafkaError(
                code: .clientCreation,
                message: "librdkafka could not create the \(kind) client: \(errstr.nullTerminatedString)"
            )
        }
        self.handle = handle
        self.context = context
    }

    deinit {
        rd_kafka_destroy(handle)
    }

    /// Builds an `rd_kafka_conf_t`, naming the property librdkafka rejected.
    static func makeConf(_ properties: [(String, String)]) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in properties {
            let result = rd_kafka_conf_set(conf, name, value, &errstr, errstr.count)
            guard result != RD_KAFKA_CONF_OK else { continue }
            rd_kafka_conf_destroy(conf)
            let reason = isSensitive(name)
                ? "the value was rejected (not shown: the property may hold a secret)"
                : errstr.nullTerminatedString
            let kind = result == RD_KAFKA_CONF_UNKNOWN ? "unknown property" : "invalid value"
            throw KafkaError(
                code: .invalidConfiguration,
                message: "librdkafka configuration property '\(name)': \(kind): \(reason). "
                    + "Check the property name and value against librdkafka's CONFIGURATION.md"
            )
        }
        return conf
    }

    static func isSensitive(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return ["password", "secret", "key", "token", "jaas"].contains { lowered.contains($0) }
    }

    private static func log(
        rk: OpaquePointer?, level: Int32, facility: UnsafePointer<CChar>?,
        text: UnsafePointer<CChar>?
    ) {
        guard let context = RDKafkaCallbackContext.of(rk) else { return }
        let logLevel: Logger.Level = switch level {
        case ...3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
        let facilityText = facility.map { String(cString: $0) } ?? "?"
        let message = text.map { String(cString: $0) } ?? ""
        context.consumerEvents?.skips.note(level: level, facility: facilityText, text: message)
        context.logger.log(
            level: logLevel,
            "\(message)",
            metadata: ["kafka.facility": "\(facilityText)"]
        )
    }

    /// Error events (served by the polling thread): connection trouble is usually transient
    /// and retried by librdkafka, so it is logged rather than thrown.
    private static func reportError(rk: OpaquePointer?, error: rd_kafka_resp_err_t, reason: UnsafePointer<CChar>?) {
        guard let context = RDKafkaCallbackContext.of(rk) else { return }
        let fatal = error == RD_KAFKA_RESP_ERR__FATAL
        context.logger.log(
            level: fatal ? .critical : .warning,
            "librdkafka error: \(reason.map { String(cString: $0) } ?? "")",
            metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(error)))"]
        )
    }

    /// Runs a blocking librdkafka call on a dedicated thread, never on the cooperative pool.
    static func runBlocking<Result: Sendable>(
        name: String,
        _ body: @escaping @Sendable () throws(KafkaError) -> Result
    ) async throws(KafkaError) -> Result {
        let outcome: Swift.Result<Result, KafkaError> = await withCheckedContinuation { continuation in
            DedicatedThread.start(name: name) {
                do throws(KafkaError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try outcome.get()
    }
}

extension [CChar] {
    /// The text before the first NUL of a C `errstr` buffer.
    var nullTerminatedString: String {
        let bytes = prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
