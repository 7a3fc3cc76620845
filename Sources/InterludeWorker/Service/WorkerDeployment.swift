import Foundation
import Interlude
import InterludeKafka
import InterludePostgres
import Logging
import Prometheus
import ServiceLifecycle

/// Everything a worker process needs, read once from `INTERLUDE_*` environment variables:
/// the worker's configuration, the database, and what to do at start. With it, a worker
/// executable for your own graphs is a few lines:
///
/// ```swift
/// @main struct RefundWorker {
///     static func main() async throws {
///         var graphs = GraphRegistry()
///         try graphs.register(try makeRefundGraph())
///         let deployment = try WorkerDeployment(environment: ProcessInfo.processInfo.environment)
///         try await deployment.run(graphs, logger: Logger(label: "refund-worker"))
///     }
/// }
/// ```
///
/// The library never reads the environment itself: the executable passes it in. Every key is
/// listed in docs/configuration.md.
public struct WorkerDeployment: Sendable {
    /// `INTERLUDE_DATABASE_URL` (required), `INTERLUDE_DATABASE_SCHEMA` (default `interlude`),
    /// `INTERLUDE_DATABASE_POOL_SIZE` (default 4), and the connection limits
    /// `INTERLUDE_DATABASE_ACQUIRE_TIMEOUT`, `_CONNECT_TIMEOUT`, `_STATEMENT_TIMEOUT`,
    /// `_QUERY_DEADLINE`, `_KEEPALIVES_IDLE`, `_KEEPALIVES_INTERVAL`, `_KEEPALIVES_COUNT`
    /// (seconds; defaults in `PostgresConnection.Timeouts`).
    public var database: PostgresCheckpointer.Configuration
    /// The worker's settings.
    public var worker: Worker.Configuration
    /// `INTERLUDE_MIGRATE`: apply database migrations at start. Default: true.
    public var migrate: Bool
    /// `INTERLUDE_CREATE_TOPICS`: create missing topics at start. Default: true.
    public var createTopics: Bool
    /// `INTERLUDE_TOPIC_PARTITIONS`: partitions of topics the worker creates. Default: 12.
    public var topicPartitions: Int32
    /// `INTERLUDE_HTTP_ADDRESS` (`host:port`; port 0 = any free port): serve `/healthz`,
    /// `/readyz` and `/metrics` there. Default: none (no HTTP server).
    public var http: WorkerHTTPServer.Configuration?

    /// Reads the settings.
    /// - Throws: ``WorkerError`` `.invalidConfiguration` naming the variable and what it expects.
    public init(environment: [String: String]) throws {
        let env = EnvironmentReader(environment)
        guard let url = env.string("INTERLUDE_DATABASE_URL") else {
            throw WorkerError(.invalidConfiguration, "INTERLUDE_DATABASE_URL is not set: give the PostgreSQL URL (postgres://user:password@host:5432/db) or a libpq conninfo")
        }
        database = PostgresCheckpointer.Configuration(
            url: url, schema: env.string("INTERLUDE_DATABASE_SCHEMA") ?? "interlude",
            poolSize: try env.int("INTERLUDE_DATABASE_POOL_SIZE", 4))
        database.acquireTimeout = try env.duration("INTERLUDE_DATABASE_ACQUIRE_TIMEOUT", unit: .seconds(1), database.acquireTimeout)
        var timeouts = database.timeouts
        timeouts.connect = try env.optionalDuration("INTERLUDE_DATABASE_CONNECT_TIMEOUT", unit: .seconds(1), timeouts.connect)
        timeouts.statement = try env.optionalDuration("INTERLUDE_DATABASE_STATEMENT_TIMEOUT", unit: .seconds(1), timeouts.statement)
        timeouts.queryDeadline = try env.optionalDuration("INTERLUDE_DATABASE_QUERY_DEADLINE", unit: .seconds(1), timeouts.queryDeadline)
        timeouts.keepalivesIdle = try env.duration("INTERLUDE_DATABASE_KEEPALIVES_IDLE", unit: .seconds(1), timeouts.keepalivesIdle)
        timeouts.keepalivesInterval = try env.duration("INTERLUDE_DATABASE_KEEPALIVES_INTERVAL", unit: .seconds(1), timeouts.keepalivesInterval)
        timeouts.keepalivesCount = try env.int("INTERLUDE_DATABASE_KEEPALIVES_COUNT", timeouts.keepalivesCount)
        database.timeouts = timeouts
        worker = try Worker.Configuration(environment: environment)
        migrate = try env.bool("INTERLUDE_MIGRATE", true)
        createTopics = try env.bool("INTERLUDE_CREATE_TOPICS", true)
        topicPartitions = Int32(try env.int("INTERLUDE_TOPIC_PARTITIONS", 12))
        http = try env.string("INTERLUDE_HTTP_ADDRESS").map { try WorkerHTTPServer.Configuration(address: $0) }
    }

    /// Runs a worker process for `graphs` until SIGTERM or SIGINT: opens the store, migrates
    /// (or checks the schema), creates missing topics, then serves with a graceful shutdown.
    /// The start-up runs inside the service group, so a SIGTERM or SIGINT during it is a
    /// graceful shutdown too: the start-up step under way finishes, the worker never joins its
    /// group, and the process exits 0 (it was killed by the signal, 143, before).
    public func run(_ graphs: GraphRegistry, logger: Logger) async throws {
        let process = WorkerProcess(deployment: self, graphs: graphs, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [process], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Start-up, then the worker, as one service.
    private struct WorkerProcess: Service {
        let deployment: WorkerDeployment
        let graphs: GraphRegistry
        let logger: Logger

        func run() async throws {
            let store = try PostgresCheckpointer(configuration: deployment.database, logger: logger)
            defer { store.close() }
            if deployment.migrate {
                let applied = try await store.migrate()
                if !applied.isEmpty { logger.info("migrations applied", metadata: ["pg.versions": "\(applied)"]) }
            } else {
                try await store.verifySchema()
            }
            if deployment.createTopics {
                var admin = KafkaAdmin.Configuration(bootstrapServers: deployment.worker.bootstrapServers)
                admin.librdkafkaProperties = deployment.worker.kafkaProperties
                _ = try await KafkaAdmin(configuration: admin, logger: logger)
                    .createTopics(deployment.worker.topics.all.map { KafkaTopicSpec(name: $0, partitions: deployment.topicPartitions) })
            }
            guard !Task.isShuttingDownGracefully else {
                logger.info("stopped during start-up, before joining the group")
                return
            }
            let registry = PrometheusCollectorRegistry()
            let metrics = WorkerMetrics(factory: WorkerDeployment.metricsFactory(registry))
            let service = Worker(configuration: deployment.worker, registry: graphs, store: store, logger: logger, metrics: metrics)
            guard let http = deployment.http else {
                try await service.run()
                return
            }
            let server = WorkerHTTPServer(configuration: http, registry: registry, probes: try deployment.probes(service, store: store, logger: logger), logger: logger)
            // A group inside this service takes the process's graceful shutdown and stops its
            // services in reverse order: the endpoints keep answering (not ready: draining)
            // while the worker drains.
            try await ServiceGroup(configuration: .init(services: [server, service], logger: logger)).run()
        }
    }

    /// A Prometheus factory over `registry` with command-duration buckets from 1 ms to 30 s.
    static func metricsFactory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[WorkerMetrics.Name.commandDuration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        ]
        return factory
    }

    /// Readiness asks PostgreSQL; a scrape samples the store gauges and the lag of the
    /// worker's partitions (high watermark minus the group's committed offset).
    fileprivate func probes(_ service: Worker, store: PostgresCheckpointer, logger: Logger) throws -> WorkerHTTPServer.Probes {
        // The worker's group (its committed offsets) without its static member id: the reader
        // never joins, and must not look like the member.
        var readerConfiguration = worker.consumerConfiguration
        readerConfiguration.groupInstanceID = nil
        let offsets = try KafkaPartitionReader(configuration: readerConfiguration, logger: logger)
        let metrics = service.metrics
        return WorkerHTTPServer.Probes(
            worker: service,
            checkStore: { try await store.ping() },
            sample: {
                let gauges = try await store.gauges()
                metrics.store(outboxPending: gauges.outboxPending, interruptsPending: gauges.interruptsPending)
                metrics.postgresRoundTrips(total: store.pool.roundTrips.total)
                let owned = metrics.ownedPartitions
                guard !owned.isEmpty else { return }
                let marks = try await offsets.watermarks(owned, timeout: .seconds(2))
                let committed = try await offsets.committed(owned, timeout: .seconds(2))
                metrics.consumerLag(Dictionary(uniqueKeysWithValues: marks.map { partition, marks in
                    (partition, max(0, marks.high - (committed[partition] ?? marks.low)))
                }))
            })
    }
}

extension Worker.Configuration {
    /// Reads the worker's settings from `INTERLUDE_*` variables; unset ones keep their defaults.
    /// - Throws: ``WorkerError`` `.invalidConfiguration` naming the variable and what it expects.
    public init(environment: [String: String]) throws {
        self.init()
        let env = EnvironmentReader(environment)
        bootstrapServers = env.string("INTERLUDE_KAFKA_BOOTSTRAP_SERVERS") ?? bootstrapServers
        groupID = env.string("INTERLUDE_GROUP_ID") ?? groupID
        groupInstanceID = env.string("INTERLUDE_GROUP_INSTANCE_ID")
        topics = TopicNames(prefix: environment["INTERLUDE_TOPIC_PREFIX"] ?? topics.prefix)
        sessionTimeout = try env.duration("INTERLUDE_SESSION_TIMEOUT_MS", unit: .milliseconds(1), sessionTimeout)
        fetchWaitMax = try env.duration("INTERLUDE_FETCH_WAIT_MAX_MS", unit: .milliseconds(1), fetchWaitMax)
        linger = try env.duration("INTERLUDE_LINGER_MS", unit: .milliseconds(1), linger)
        processing.maxAttempts = try env.int("INTERLUDE_MAX_ATTEMPTS", processing.maxAttempts)
        processing.maxBatch = try env.int("INTERLUDE_BATCH_SIZE", processing.maxBatch)
        poisonAttempts = try env.int("INTERLUDE_POISON_ATTEMPTS", poisonAttempts)
        shutdownGrace = try env.duration("INTERLUDE_SHUTDOWN_GRACE", unit: .seconds(1), shutdownGrace)
        revokeTimeout = try env.duration("INTERLUDE_REVOKE_TIMEOUT", unit: .seconds(1), revokeTimeout)
        stallTimeout = try env.duration("INTERLUDE_STALL_TIMEOUT", unit: .seconds(1), stallTimeout)
        partitionBuffer = try env.int("INTERLUDE_PARTITION_BUFFER", partitionBuffer)
        var properties: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("INTERLUDE_KAFKA_") && key != "INTERLUDE_KAFKA_BOOTSTRAP_SERVERS" {
            properties[key.dropFirst("INTERLUDE_KAFKA_".count).lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        kafkaProperties = properties
    }
}

/// Typed reads of environment variables with errors that name the variable.
struct EnvironmentReader {
    let environment: [String: String]

    init(_ environment: [String: String]) { self.environment = environment }

    /// A non-empty value, or `nil`.
    func string(_ key: String) -> String? {
        guard let value = environment[key], !value.isEmpty else { return nil }
        return value
    }

    func int(_ key: String, _ fallback: Int) throws -> Int {
        guard let text = string(key) else { return fallback }
        guard let value = Int(text) else { throw WorkerError(.invalidConfiguration, "\(key)=\(text) is not a whole number") }
        return value
    }

    func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        guard let text = string(key)?.lowercased() else { return fallback }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw WorkerError(.invalidConfiguration, "\(key)=\(text) is not a boolean (true or false)")
        }
    }

    /// Like ``duration(_:unit:_:)``; `0` or `off` turns the limit off (`nil`).
    func optionalDuration(_ key: String, unit: Duration, _ fallback: Duration?) throws -> Duration? {
        guard let text = string(key) else { return fallback }
        if text == "0" || text.lowercased() == "off" { return nil }
        return try duration(key, unit: unit, fallback ?? .zero)
    }

    /// A whole number of `unit`s, or a number with a unit suffix (`ms`, `s`, `m`).
    func duration(_ key: String, unit: Duration, _ fallback: Duration) throws -> Duration {
        guard let text = string(key) else { return fallback }
        let suffixes: [(String, Duration)] = [("ms", .milliseconds(1)), ("s", .seconds(1)), ("m", .seconds(60))]
        for (suffix, scale) in suffixes where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value >= 0 { return scale * value }
        }
        guard let value = Double(text), value >= 0 else {
            throw WorkerError(.invalidConfiguration, "\(key)=\(text) is not a duration: give a number of \(unit == .seconds(1) ? "seconds" : "milliseconds") or a number with ms, s or m")
        }
        return unit * value
    }
}
