import ArgumentParser
import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Logging
import ServiceLifecycle

/// `interlude worker`: one stateless worker hosting the example graphs.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: consume run and resume commands, checkpoint to PostgreSQL, publish events.",
        discussion: "Configured by environment variables (INTERLUDE_DATABASE_URL, INTERLUDE_KAFKA_BOOTSTRAP_SERVERS, ...; see docs/configuration.md). SIGTERM or SIGINT stops it gracefully."
    )

    func run() async throws {
        let deployment = try WorkerDeployment(environment: ProcessInfo.processInfo.environment)
        let logger = makeLogger("interlude.worker")
        // The graphs are bound to the worker's store when it starts; compiling them needs one.
        let graphs = try ExampleRegistry.make(checkpointer: InMemoryCheckpointer())
        try await deployment.run(graphs, logger: logger)
    }
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
