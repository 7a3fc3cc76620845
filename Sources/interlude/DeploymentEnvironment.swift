import Foundation
import InterludeKafka
import InterludePostgres
import InterludeWorker

/// Every setting the executable reads from the environment, read once. Libraries never read
/// the environment; this is the one place that does. `docs/configuration.md` lists the keys.
struct DeploymentEnvironment {
    /// `INTERLUDE_DATABASE_URL`: libpq conninfo or `postgres://` URL. Required for `worker`.
    var databaseURL: String?
    /// `INTERLUDE_DATABASE_SCHEMA`: schema of the tables. Default: `interlude`.
    var databaseSchema: String
    /// `INTERLUDE_DATABASE_POOL_SIZE`: connections per worker. Default: 4.
    var databasePoolSize: Int
    /// `INTERLUDE_KAFKA_BOOTSTRAP_SERVERS`. Default: `localhost:9092`.
    var bootstrapServers: String
    /// `INTERLUDE_TOPIC_PREFIX`. Default: `interlude.`.
    var topicPrefix: String
    /// `INTERLUDE_GROUP_ID`. Default: `interlude.workers`.
    var groupID: String
    /// `INTERLUDE_GROUP_INSTANCE_ID`: static membership. Default: none.
    var groupInstanceID: String?
    /// `INTERLUDE_TOPIC_PARTITIONS`: partitions when the worker creates topics. Default: 12.
    var topicPartitions: Int32
    /// `INTERLUDE_CREATE_TOPICS`: create missing topics at start. Default: true.
    var createTopics: Bool
    /// `INTERLUDE_MIGRATE`: apply database migrations at start. Default: true.
    var migrate: Bool
    /// `INTERLUDE_MAX_ATTEMPTS`: attempts before a failing run is parked. Default: 3.
    var maxAttempts: Int
    /// `INTERLUDE_SESSION_TIMEOUT_MS`: consumer group session timeout. Default: 10000.
    var sessionTimeoutMilliseconds: Int
    /// `INTERLUDE_FETCH_WAIT_MAX_MS`: consumer fetch wait (`fetch.wait.max.ms`). Default: 5.
    var fetchWaitMaxMilliseconds: Int
    /// `INTERLUDE_LINGER_MS`: how long the producer waits to fill a batch (`linger.ms`), as the
    /// worker's producer does. Default: the producer's (1).
    var lingerMilliseconds: Int?
    /// `INTERLUDE_LOG_LEVEL`: trace, debug, info, notice, warning, error. Default: info.
    var logLevel: String
    /// `INTERLUDE_KAFKA_<PROPERTY>`: any librdkafka property, `_` read as `.`
    /// (`INTERLUDE_KAFKA_SECURITY_PROTOCOL=SASL_SSL` -> `security.protocol`).
    var kafkaProperties: [String: String]

    init(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func int(_ key: String, _ fallback: Int) throws -> Int {
            guard let text = environment[key], !text.isEmpty else { return fallback }
            guard let value = Int(text) else { throw DemoError("\(key)=\(text) is not a whole number") }
            return value
        }
        func bool(_ key: String, _ fallback: Bool) throws -> Bool {
            guard let text = environment[key]?.lowercased(), !text.isEmpty else { return fallback }
            switch text {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw DemoError("\(key)=\(text) is not a boolean (true or false)")
            }
        }
        databaseURL = environment["INTERLUDE_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        databaseSchema = environment["INTERLUDE_DATABASE_SCHEMA"] ?? "interlude"
        databasePoolSize = try int("INTERLUDE_DATABASE_POOL_SIZE", 4)
        bootstrapServers = environment["INTERLUDE_KAFKA_BOOTSTRAP_SERVERS"] ?? "localhost:9092"
        topicPrefix = environment["INTERLUDE_TOPIC_PREFIX"] ?? "interlude."
        groupID = environment["INTERLUDE_GROUP_ID"] ?? "interlude.workers"
        groupInstanceID = environment["INTERLUDE_GROUP_INSTANCE_ID"]
        topicPartitions = Int32(try int("INTERLUDE_TOPIC_PARTITIONS", 12))
        createTopics = try bool("INTERLUDE_CREATE_TOPICS", true)
        migrate = try bool("INTERLUDE_MIGRATE", true)
        maxAttempts = try int("INTERLUDE_MAX_ATTEMPTS", 3)
        sessionTimeoutMilliseconds = try int("INTERLUDE_SESSION_TIMEOUT_MS", 10_000)
        fetchWaitMaxMilliseconds = try int("INTERLUDE_FETCH_WAIT_MAX_MS", 5)
        lingerMilliseconds = environment["INTERLUDE_LINGER_MS", default: ""].isEmpty ? nil : try int("INTERLUDE_LINGER_MS", 1)
        logLevel = environment["INTERLUDE_LOG_LEVEL"] ?? "info"
        var properties: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("INTERLUDE_KAFKA_") && key != "INTERLUDE_KAFKA_BOOTSTRAP_SERVERS" {
            properties[key.dropFirst("INTERLUDE_KAFKA_".count).lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        kafkaProperties = properties
    }

    var topics: TopicNames { TopicNames(prefix: topicPrefix) }

    func requireDatabaseURL() throws -> String {
        guard let databaseURL else {
            throw DemoError("INTERLUDE_DATABASE_URL is not set: give the PostgreSQL URL (postgres://user:password@host:5432/db) or a libpq conninfo")
        }
        return databaseURL
    }

    func checkpointer() throws -> PostgresCheckpointer {
        try PostgresCheckpointer(configuration: .init(url: try requireDatabaseURL(), schema: databaseSchema, poolSize: databasePoolSize), logger: makeLogger("interlude.postgres"))
    }

    func adminConfiguration() -> KafkaAdmin.Configuration {
        var configuration = KafkaAdmin.Configuration(bootstrapServers: bootstrapServers)
        configuration.librdkafkaProperties = kafkaProperties
        return configuration
    }

    func producerConfiguration() -> KafkaProducer.Configuration {
        var configuration = KafkaProducer.Configuration(bootstrapServers: bootstrapServers)
        configuration.librdkafkaProperties = kafkaProperties
        if let lingerMilliseconds { configuration.linger = .milliseconds(lingerMilliseconds) }
        return configuration
    }

    func consumerConfiguration(groupID: String) -> KafkaConsumer.Configuration {
        var configuration = KafkaConsumer.Configuration(bootstrapServers: bootstrapServers, groupID: groupID)
        configuration.librdkafkaProperties = kafkaProperties
        configuration.sessionTimeout = .milliseconds(sessionTimeoutMilliseconds)
        configuration.librdkafkaProperties["fetch.wait.max.ms"] = kafkaProperties["fetch.wait.max.ms"] ?? String(fetchWaitMaxMilliseconds)
        return configuration
    }
}
