import ArgumentParser
import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `interlude worker`: one stateless worker hosting the example graphs.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: consume run and resume commands, checkpoint to PostgreSQL, publish events.",
        discussion: "Configured by environment variables (INTERLUDE_DATABASE_URL, INTERLUDE_KAFKA_BOOTSTRAP_SERVERS, ...; see docs/configuration.md). SIGTERM or SIGINT stops it gracefully."
    )

    func run() async throws {
        var deployment = try WorkerDeployment(environment: ProcessInfo.processInfo.environment)
        deployment.worker.processing.signing = try ResumeSigning(environment: ProcessInfo.processInfo.environment)
        if let crash = try TestCrash(environment: ProcessInfo.processInfo.environment) {
            deployment.worker.processing.hooks = crash.hooks
        }
        let logger = makeLogger("interlude.worker")
        // The graphs are bound to the worker's store when it starts; compiling them needs one.
        let graphs = try ExampleRegistry.make(checkpointer: InMemoryCheckpointer())
        try await deployment.run(graphs, logger: logger)
    }
}

/// Test only: makes the worker `_exit` at a named ``WorkerPoint``, so the end-to-end fault
/// tests and `make chaos` can prove that a crash there loses, doubles and stalls nothing.
///
/// `INTERLUDE_TEST_CRASH_AT` names the point (`after_commit`, `after_failure_commit`,
/// `between_update_and_continue`, `after_publish`, `mid_batch`); `INTERLUDE_TEST_CRASH_AFTER`
/// (default 1) is which time the point is reached that exits. The process ends with status
/// ``status`` and no clean-up at all, as `kill -9` would leave it. Never set in production.
struct TestCrash {
    /// The exit status of a planned crash: 86.
    static let status: Int32 = 86

    let point: WorkerPoint
    let after: Int

    /// Reads the settings; `nil` when `INTERLUDE_TEST_CRASH_AT` is unset.
    /// - Throws: ``WorkerError`` `.invalidConfiguration` for an unknown point or a bad count.
    init?(environment: [String: String]) throws {
        guard let name = environment["INTERLUDE_TEST_CRASH_AT"], !name.isEmpty else { return nil }
        guard let point = WorkerPoint(rawValue: name) else {
            throw WorkerError(.invalidConfiguration, "INTERLUDE_TEST_CRASH_AT=\(name) is not a worker point; use one of \(WorkerPoint.allCases.map(\.rawValue).joined(separator: ", ")) (test only)")
        }
        let text = environment["INTERLUDE_TEST_CRASH_AFTER"] ?? "1"
        guard let after = Int(text), after >= 1 else {
            throw WorkerError(.invalidConfiguration, "INTERLUDE_TEST_CRASH_AFTER=\(text) is not a whole number of 1 or more (test only)")
        }
        self.point = point
        self.after = after
    }

    /// Hooks that count arrivals at the point and exit at the chosen one.
    var hooks: WorkerHooks {
        let (point, after) = (self.point, self.after)
        let box = ArrivalCounter()
        return WorkerHooks { arrived in
            guard arrived == point, box.counter.add(1, ordering: .relaxed).newValue == after else { return }
            let note = Array("interlude worker: crashing on purpose at \(point.rawValue) (INTERLUDE_TEST_CRASH_AT)\n".utf8)
            _ = note.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            _exit(Self.status)
        }
    }
}

/// Shares one counter with a `@Sendable` closure (`Atomic` is not copyable).
private final class ArrivalCounter: Sendable {
    let counter = Atomic<Int>(0)
}

/// `interlude migrate`: creates or upgrades the PostgreSQL tables.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the PostgreSQL tables (INTERLUDE_DATABASE_URL, INTERLUDE_DATABASE_SCHEMA).")

    func run() async throws {
        let environment = try DeploymentEnvironment()
        let checkpointer = try environment.checkpointer()
        let applied = try await checkpointer.migrate()
        print(applied.isEmpty ? "schema '\(environment.databaseSchema)' is up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", ")) to schema '\(environment.databaseSchema)'")
        checkpointer.close()
    }
}

/// `interlude topics`: creates the Kafka topics.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics", abstract: "Create the Kafka topics (runs, resumes, reviews, events, dlq) if they are missing.")

    @Option(help: "Partitions per topic. Default: INTERLUDE_TOPIC_PARTITIONS or 12.")
    var partitions: Int32?

    func run() async throws {
        let environment = try DeploymentEnvironment()
        let admin = try KafkaAdmin(configuration: environment.adminConfiguration(), logger: makeLogger("interlude.topics"))
        let result = try await admin.createTopics(environment.topics.all.map { KafkaTopicSpec(name: $0, partitions: partitions ?? environment.topicPartitions) })
        for (name, outcome) in result.sorted(by: { $0.key < $1.key }) { print("\(name): \(outcome == .created ? "created" : "already existed")") }
    }
}
