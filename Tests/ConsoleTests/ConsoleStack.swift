import Foundation
import Interlude
import InterludeKafka
import InterludePostgres
import InterludeWorker
import Logging

/// What the browser test runs against: a fresh schema on the test PostgreSQL, the mock Kafka
/// cluster in this process, one `interlude worker` process and one `interlude console`
/// process (header identity), all stopped by ``shutdown()``.
final class ConsoleStack: @unchecked Sendable {
    // @unchecked: the children are set once in `start` by the test's own task, before any sharing.
    static let actorHeader = "X-Forwarded-User"
    let logger: Logger = {
        var logger = Logger(label: "console-tests")
        logger.logLevel = .error
        return logger
    }()
    let schema = "console_\(UInt32.random(in: 0...UInt32.max))"
    let checkpointer: PostgresCheckpointer
    let cluster: KafkaDevCluster
    let topics: TopicNames
    let logDirectory: URL
    private var children: [ChildProcess] = []
    private(set) var consoleURL = ""

    init() async throws {
        guard let url = ProcessInfo.processInfo.environment["INTERLUDE_TEST_DATABASE_URL"], !url.isEmpty else {
            throw StackError("INTERLUDE_TEST_DATABASE_URL is not set: run through `make test` or `scripts/with-test-postgres.sh swift test --disable-xctest`")
        }
        checkpointer = try PostgresCheckpointer(configuration: .init(url: url, schema: schema, poolSize: 2), logger: logger)
        try await checkpointer.migrate()
        cluster = try KafkaDevCluster(brokers: 1, logger: logger)
        topics = TopicNames(prefix: "\(schema).")
        try cluster.createTopics(topics.all.map { KafkaTopicSpec(name: $0, partitions: 2) })
        logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("interlude-\(schema)")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("interlude").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw StackError("the interlude executable is not built at \(executable); `swift build` (or make test) builds it")
        }
        let environment = ProcessInfo.processInfo.environment.merging([
            "INTERLUDE_DATABASE_URL": url, "INTERLUDE_DATABASE_SCHEMA": schema, "INTERLUDE_MIGRATE": "false",
            "INTERLUDE_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrapServers, "INTERLUDE_TOPIC_PREFIX": topics.prefix,
            "INTERLUDE_CREATE_TOPICS": "false", "INTERLUDE_GROUP_ID": "workers-\(schema)", "INTERLUDE_SESSION_TIMEOUT_MS": "6000",
            "INTERLUDE_CONSOLE_ADDRESS": "127.0.0.1:0", "INTERLUDE_CONSOLE_ACTOR_HEADER": Self.actorHeader,
        ]) { _, new in new }
        let consoleLog = logDirectory.appendingPathComponent("console.log")
        children.append(try ChildProcess(executable: executable, arguments: ["worker"], environment: environment, output: logDirectory.appendingPathComponent("worker.log").path))
        children.append(try ChildProcess(executable: executable, arguments: ["console"], environment: environment, output: consoleLog.path))
        do {
            consoleURL = try await waitUntil("the console listens (\(consoleLog.path))", seconds: 60) {
                let text = (try? String(contentsOf: consoleLog, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").first { $0.hasPrefix("interlude console: listening on ") }?.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init)
            }
        } catch {
            // The test never gets a stack to shut down: stop the processes started so far here.
            await shutdown()
            throw error
        }
    }

    func commands() throws -> (CommandClient, KafkaProducer) {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        return (CommandClient(producer: producer, topics: topics), producer)
    }

    /// Polls `probe` every 100 ms until it returns a value, or fails after `seconds`.
    func waitUntil<T>(_ what: String, seconds: Double = 120, _ probe: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            if let value = try await probe() { return value }
            guard ContinuousClock.now < deadline else { throw StackError("timed out waiting until \(what)\n\(logs())") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The tails of the worker and console logs, for failure messages.
    func logs() -> String {
        ["worker.log", "console.log"].map { name in
            let text = (try? String(contentsOf: logDirectory.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return "== \(name)\n" + text.split(separator: "\n").suffix(20).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func shutdown() async {
        for child in children { child.terminate() }
        for child in children { _ = await child.wait() }
        children = []
        checkpointer.close()
    }
}

struct StackError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
