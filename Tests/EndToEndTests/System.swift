import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludePostgres
import InterludeWorker
import Logging
import ServiceLifecycle
import Testing

extension Tag {
    /// End-to-end tests: real worker processes, real PostgreSQL, the mock Kafka cluster over TCP.
    @Tag static var e2e: Self
}

/// One whole deployment for a test: the mock Kafka cluster in this process, a fresh schema on
/// the test PostgreSQL, and `interlude worker` processes started from the built executable.
final class System: @unchecked Sendable {
    // @unchecked: `workers` is only changed by the test's own task, between awaits.
    let logger: Logger = {
        // librdkafka reports every refused connection of a fault test; keep the log to errors.
        var logger = Logger(label: "e2e")
        logger.logLevel = .error
        return logger
    }()
    let cluster: KafkaDevCluster
    let topics: TopicNames
    let databaseURL: String
    let schema: String
    let checkpointer: PostgresCheckpointer
    let groupID: String
    var workers: [ChildProcess] = []
    /// Workers started so far: names each one's log (workers leave the list when removed).
    var started = 0
    let logDirectory: URL

    /// - Parameter resumesPartitions: Partitions of the resumes topic when it should differ
    ///   from the others (it decides which partitions a joining worker is given first).
    init(partitions: Int32 = 4, resumesPartitions: Int32? = nil) async throws {
        guard let url = ProcessInfo.processInfo.environment["INTERLUDE_TEST_DATABASE_URL"], !url.isEmpty else {
            throw SystemError("INTERLUDE_TEST_DATABASE_URL is not set: run the end-to-end tests through `make test` or `scripts/with-test-postgres.sh swift test --disable-xctest`")
        }
        databaseURL = url
        schema = "e2e_\(UInt32.random(in: 0...UInt32.max))"
        checkpointer = try PostgresCheckpointer(configuration: .init(url: url, schema: schema, poolSize: 2), logger: logger)
        try await checkpointer.migrate()
        cluster = try KafkaDevCluster(brokers: 1, logger: logger)
        let topics = TopicNames(prefix: "\(schema).")
        self.topics = topics
        try cluster.createTopics(topics.all.map { KafkaTopicSpec(name: $0, partitions: $0 == topics.resumes ? resumesPartitions ?? partitions : partitions) })
        groupID = "workers-\(schema)"
        logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("interlude-\(schema)")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    }

    /// The built `interlude` executable, next to the test bundle.
    static func executable() throws -> String {
        let folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let path = folder.appendingPathComponent("interlude").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SystemError("the interlude executable is not built at \(path); `swift build` (or make test) builds it")
        }
        return path
    }

    func settings(group: String? = nil) -> [String: String] {
        [
            "INTERLUDE_DATABASE_URL": databaseURL, "INTERLUDE_DATABASE_SCHEMA": schema, "INTERLUDE_MIGRATE": "false",
            "INTERLUDE_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrapServers, "INTERLUDE_TOPIC_PREFIX": topics.prefix,
            "INTERLUDE_CREATE_TOPICS": "false", "INTERLUDE_GROUP_ID": group ?? groupID, "INTERLUDE_SESSION_TIMEOUT_MS": "10000",
            // Reconnect within a second of a broker coming back, well inside the session timeout
            // (librdkafka backs off up to 10 s by default, long enough to be evicted).
            "INTERLUDE_KAFKA_RECONNECT_BACKOFF_MAX_MS": "500",
            "INTERLUDE_LOG_LEVEL": "info",
        ]
    }

    /// Starts `count` worker processes, with `extra` settings over the usual ones.
    func startWorkers(_ count: Int, extra: [String: String] = [:]) throws {
        let executable = try Self.executable()
        let environment = ProcessInfo.processInfo.environment.merging(settings()) { _, new in new }.merging(extra) { _, new in new }
        for _ in 0..<count {
            started += 1
            let log = logDirectory.appendingPathComponent("worker-\(started).log").path
            workers.append(try ChildProcess(executable: executable, arguments: ["worker"], environment: environment, output: log))
        }
    }

    /// SIGTERM to every worker still running; returns their exit statuses.
    func stopWorkers() async -> [Int32] {
        for worker in workers { worker.terminate() }
        var statuses: [Int32] = []
        for worker in workers { statuses.append(await worker.wait()) }
        workers = []
        return statuses
    }

    var consumerConfiguration: KafkaConsumer.Configuration {
        var configuration = KafkaConsumer.Configuration(bootstrapServers: cluster.bootstrapServers, groupID: "unused")
        configuration.sessionTimeout = .seconds(10)
        configuration.librdkafkaProperties["fetch.wait.max.ms"] = "10"
        configuration.librdkafkaProperties["reconnect.backoff.max.ms"] = "500"
        return configuration
    }

    var driver: LoadDriver {
        var producer = KafkaProducer.Configuration(bootstrapServers: cluster.bootstrapServers)
        producer.librdkafkaProperties["reconnect.backoff.max.ms"] = "500"
        return LoadDriver(producer: producer, consumer: consumerConfiguration, topics: topics, logger: logger)
    }

    func producer() throws -> KafkaProducer {
        try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
    }

    /// One number from SQL, in this system's schema. A read: re-run (up to 10 times, 200 ms
    /// apart) when PostgreSQL says to retry, as after a fault test restarted it under the
    /// pool's idle connections.
    func count(_ statement: PostgresStatement, _ parameters: [PostgresValue] = []) async throws -> Int64 {
        var attempts = 1
        while true {
            do {
                let rows = try await checkpointer.pool.query(statement, parameters)
                return try rows.first?.decode(Int64.self, at: 0) ?? 0
            } catch let error as PostgresError where error.isRetriable && attempts < 10 {
                attempts += 1
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Waits until `condition` holds, checking every 100 ms, or fails after `seconds`.
    func waitUntil(_ what: String, seconds: Double = 120, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !(try await condition()) {
            guard ContinuousClock.now < deadline else { throw SystemError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// What the worker logs said, for failure messages.
    func workerLogs() -> String {
        (try? FileManager.default.contentsOfDirectory(atPath: logDirectory.path))?.sorted().map { name in
            let text = (try? String(contentsOf: logDirectory.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return "== \(name)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n") ?? ""
    }

    /// Runs an in-process worker with a new group, which reads the runs and resumes topics from
    /// offset 0, until it saw `expectedCommands` duplicates; returns its counters.
    func replayFromStart(expectedCommands: Int, seconds: Double = 120) async throws -> WorkerStats {
        var registry = GraphRegistry()
        try registry.register(try ApprovalExample.makeGraph(checkpointer: checkpointer))
        try registry.register(try FaultProbeExample.makeGraph(checkpointer: checkpointer))
        var configuration = Worker.Configuration()
        configuration.bootstrapServers = cluster.bootstrapServers
        configuration.groupID = "replay-\(UUID().uuidString)"
        configuration.topics = topics
        configuration.sessionTimeout = .seconds(6)
        let worker = Worker(configuration: configuration, registry: registry, store: checkpointer, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [worker], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("the replaying worker saw all \(expectedCommands) commands", seconds: seconds) { worker.stats.duplicates >= expectedCommands }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        return worker.stats
    }

    func shutdown() async {
        _ = await stopWorkers()
        checkpointer.close()
    }
}

struct SystemError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum SQL {
    static let completedThreads = PostgresStatement("e2e.completed", sql: "SELECT count(*) FROM threads WHERE status = 'completed'")
    static let unpublished = PostgresStatement("e2e.unpublished", sql: "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    static let threads = PostgresStatement("e2e.threads", sql: "SELECT count(*) FROM threads")
    static let threadsNotAtVersionTwo = PostgresStatement("e2e.versions", sql: "SELECT count(*) FROM threads WHERE version <> 2")
    static let versionSum = PostgresStatement("e2e.version_sum", sql: "SELECT coalesce(sum(version), 0)::bigint FROM threads")
    static let resolvedInterrupts = PostgresStatement("e2e.resolved", sql: "SELECT count(*) FROM interrupts WHERE status = 'resolved'")
    static let interrupts = PostgresStatement("e2e.interrupts", sql: "SELECT count(*) FROM interrupts")
    static let ledger = PostgresStatement("e2e.ledger", sql: "SELECT count(*) FROM command_ledger")
    static let outbox = PostgresStatement("e2e.outbox", sql: "SELECT count(*) FROM outbox")
    static let checkpoints = PostgresStatement("e2e.checkpoints", sql: "SELECT count(*) FROM checkpoints")
}

/// Runs `body` with a new system and always shuts it down (stopping its worker processes),
/// also when the body fails.
func withSystem(partitions: Int32 = 4, resumesPartitions: Int32? = nil, _ body: (System) async throws -> Void) async throws {
    let system = try await System(partitions: partitions, resumesPartitions: resumesPartitions)
    do {
        try await body(system)
    } catch {
        await system.shutdown()
        throw error
    }
    await system.shutdown()
}
