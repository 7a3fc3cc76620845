import Logging
import Synchronization
import Testing

@testable import InterludeKafka

extension Tag {
    /// Tests that run librdkafka against the embedded mock cluster.
    @Tag static var kafka: Self
}

/// Unique names per test: topics and groups never collide across tests or runs.
func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UInt64.random(in: 0...UInt64.max).description.prefix(12))"
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "<nil>" }

struct DeadlineExceeded: Error, CustomStringConvertible {
    let what: String
    let seconds: Int
    var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

struct StreamEnded: Error, CustomStringConvertible {
    let what: String
    var description: String { "the event stream ended while waiting for \(what)" }
}

/// Runs `body` until it returns a value; fails with a clear message after `seconds`.
/// The deadline is an upper bound on a wait for events, never a way to pass time.
func waitFor<T: Sendable>(
    _ what: String, seconds: Int = 30, _ body: @escaping @Sendable () async throws -> T?
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            guard let value = try await body() else { throw StreamEnded(what: what) }
            return value
        }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw DeadlineExceeded(what: what, seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!!
    }
}

/// Reads `count` messages from `consumer`, ignoring rebalance events.
func readMessages(_ count: Int, from consumer: KafkaConsumer, seconds: Int = 30) async throws -> [KafkaMessage] {
    try await waitFor("\(count) messages", seconds: seconds) {
        var messages: [KafkaMessage] = []
        for try await event in consumer.events {
            if case .message(let message) = event {
                messages.append(message)
                if messages.count == count { return messages }
            }
        }
        return nil
    }
}

/// One dev cluster with topics created, plus client configurations pointing at it.
struct TestCluster {
    let cluster: KafkaDevCluster
    let logger: Logger

    init(brokers: Int = 1, topics: [KafkaTopicSpec] = []) throws {
        var logger = Logger(label: "interlude.kafka.tests")
        logger.logLevel = .error
        self.logger = logger
        cluster = try KafkaDevCluster(brokers: brokers, logger: logger)
        try cluster.createTopics(topics)
    }

    func producer(logger: Logger? = nil) throws -> KafkaProducer {
        try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger ?? self.logger)
    }

    /// A consumer with a 6 s session timeout: the mock cluster waits the group's session
    /// timeout (minus 1 s) for members after one leaves, so the 45 s default would stall
    /// every test that re-joins a group.
    func consumer(
        topics: [String], group: String, logger: Logger? = nil,
        configure: (inout KafkaConsumer.Configuration) -> Void = { _ in }
    ) throws -> KafkaConsumer {
        var configuration = KafkaConsumer.Configuration(bootstrapServers: cluster.bootstrapServers, groupID: group)
        configuration.sessionTimeout = .seconds(6)
        configure(&configuration)
        return try KafkaConsumer(topics: topics, configuration: configuration, logger: logger ?? self.logger)
    }
}

/// Collects log messages so a test can wait for the moment a client observed a fault.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    init() {
        (stream, continuation) = AsyncStream<String>.makeStream()
    }

    func logger(level: Logger.Level = .warning) -> Logger {
        var logger = Logger(label: "interlude.kafka.tests.capture") { _ in CapturingHandler(capture: self) }
        logger.logLevel = level
        return logger
    }

    /// Every line recorded so far.
    var all: [String] { lines.withLock { $0 } }

    func record(_ line: String) {
        lines.withLock { $0.append(line) }
        continuation.yield(line)
    }

    /// Waits for the first line containing any of `fragments`.
    func waitForLine(containingAnyOf fragments: [String], seconds: Int = 30) async throws -> String {
        let stream = self.stream
        return try await waitFor("a log line containing one of \(fragments)", seconds: seconds) {
            for await line in stream where fragments.contains(where: line.contains) { return line }
            return nil
        }
    }

    private struct CapturingHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let details = event.metadata.map { " \($0)" } ?? ""
            capture.record("\(event.level): \(event.message)\(details)")
        }
    }
}

/// Kafka's Java client murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), written
/// from its description so the test does not trust librdkafka's own implementation.
func javaMurmur2(_ data: [UInt8]) -> Int32 {
    let seed: UInt32 = 0x9747_b28c
    let m: UInt32 = 0x5bd1_e995
    let r: UInt32 = 24
    var h = seed ^ UInt32(data.count)
    let whole = data.count / 4
    for index in 0..<whole {
        let i = index * 4
        var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
        k &*= m
        k ^= k >> r
        k &*= m
        h &*= m
        h ^= k
    }
    let tail = whole * 4
    switch data.count % 4 {
    case 3:
        h ^= UInt32(data[tail + 2]) << 16
        fallthrough
    case 2:
        h ^= UInt32(data[tail + 1]) << 8
        fallthrough
    case 1:
        h ^= UInt32(data[tail])
        h &*= m
    default:
        break
    }
    h ^= h >> 13
    h &*= m
    h ^= h >> 15
    return Int32(bitPattern: h)
}

/// The partition the Java client picks for `key`: `toPositive(murmur2(key)) % partitions`.
func javaPartition(for key: [UInt8], partitions: Int32) -> Int32 {
    (javaMurmur2(key) & 0x7fff_ffff) % partitions
}

/// A mutable value shared between the tasks of one test.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        value.withLock { body(&$0) }
    }
}
