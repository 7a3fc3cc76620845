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
        let environment = try DeploymentEnvironment()
        let logger = makeLogger("interlude.worker")
        let checkpointer = try environment.checkpointer()
        if environment.migrate {
            let applied = try await checkpointer.migrate()
            if !applied.isEmpty { logger.info("migrations applied", metadata: ["pg.versions": "\(applied)"]) }
        } else {
            try await checkpointer.verifySchema()
        }
        if environment.createTopics {
            let admin = try KafkaAdmin(configuration: environment.adminConfiguration(), logger: logger)
            _ = try await admin.createTopics(environment.topics.all.map { KafkaTopicSpec(name: $0, partitions: environment.topicPartitions) })
        }
        var configuration = Worker.Configuration()
        configuration.bootstrapServers = environment.bootstrapServers
        configuration.groupID = environment.groupID
        configuration.groupInstanceID = environment.groupInstanceID
        configuration.topics = environment.topics
        configuration.kafkaProperties = environment.kafkaProperties
        configuration.sessionTimeout = .milliseconds(environment.sessionTimeoutMilliseconds)
        configuration.fetchWaitMax = .milliseconds(environment.fetchWaitMaxMilliseconds)
        configuration.processing.maxAttempts = environment.maxAttempts
        let worker = Worker(configuration: configuration, registry: try ExampleRegistry.make(checkpointer: checkpointer), checkpointer: checkpointer, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        checkpointer.close()
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
