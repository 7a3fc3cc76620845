import CoreMetrics
import Foundation
import InterludeKafka
import Synchronization

/// The series a worker reports, through swift-metrics: whichever backend the process
/// bootstrapped, or the factory given here (the worker's `/metrics` endpoint uses a
/// Prometheus registry of its own).
///
/// - `interlude_commands_total{type,result}`: commands settled, by command type (`run`,
///   `resume`, `update_state`, `cancel`; `unknown` for messages dead-lettered without a decoded
///   command: undecodable ones, and commands a batch sent to the dead-letter topic) and result
///   (`applied`, `duplicate`, `rejected`, `parked`, `dead_lettered`).
/// - `interlude_command_duration_seconds{type}`: histogram of the time from taking a batch to
///   settling each of its commands.
/// - `interlude_outbox_pending`, `interlude_interrupts_pending`: sampled from the store when
///   scraped (the deployment's totals, the same on every worker).
/// - `interlude_consumer_lag{topic,partition}`: for each partition this worker owns, the
///   high watermark minus the group's committed offset, sampled when scraped.
/// - `interlude_postgres_round_trips_total`: round trips the worker's store made to PostgreSQL
///   (statements, pipelines of statements, preparations; sweeps and outbox marking included),
///   brought up to date after every batch and when scraped. Divided by
///   `interlude_commands_total`, the round trips per command.
/// - `interlude_kafka_messages_skipped_total{topic}`: messages the broker had deleted
///   (retention) before this worker read them, so the consumer went on past them: commands
///   lost before any worker saw them. Should stay 0.
public final class WorkerMetrics: Sendable {
    /// Names of the series.
    public enum Name {
        /// Commands settled.
        public static let commands = "interlude_commands_total"
        /// Time to settle a command.
        public static let commandDuration = "interlude_command_duration_seconds"
        /// Unpublished outbox messages.
        public static let outboxPending = "interlude_outbox_pending"
        /// Pending interrupts.
        public static let interruptsPending = "interlude_interrupts_pending"
        /// Consumer lag per partition.
        public static let consumerLag = "interlude_consumer_lag"
        /// Round trips to PostgreSQL.
        public static let postgresRoundTrips = "interlude_postgres_round_trips_total"
        /// Messages deleted by the broker before they were read.
        public static let messagesSkipped = "interlude_kafka_messages_skipped_total"
    }

    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])
    private let lag = Mutex<[TopicPartition: Gauge]>([:])
    private let owned = Mutex<Set<TopicPartition>>([])
    private let outbox: Gauge
    private let interrupts: Gauge
    private let roundTrips: Counter
    /// The store's round-trip total the counter was last brought up to.
    private let roundTripsReported = Mutex<Int>(0)

    /// Creates the series with `factory`.
    /// - Parameter factory: Default: the process's bootstrapped `MetricsSystem.factory`.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        outbox = Gauge(label: Name.outboxPending, dimensions: [], factory: factory)
        interrupts = Gauge(label: Name.interruptsPending, dimensions: [], factory: factory)
        roundTrips = Counter(label: Name.postgresRoundTrips, dimensions: [], factory: factory)
    }

    /// Brings `interlude_postgres_round_trips_total` up to `total`, the store's count so far
    /// (``WorkerStore/roundTrips``); a total lower than one seen before changes nothing.
    public func postgresRoundTrips(total: Int) {
        let delta = roundTripsReported.withLock { reported in
            defer { reported = max(reported, total) }
            return total - reported
        }
        if delta > 0 { roundTrips.increment(by: delta) }
    }

    /// Counts one settled command and records how long it took.
    public func command(type: String, result: String, duration: Duration) {
        counter(Name.commands, [("type", type), ("result", result)]).increment()
        let timer = timers.withLock { timers in
            if let timer = timers[type] { return timer }
            let timer = CoreMetrics.Timer(label: Name.commandDuration, dimensions: [("type", type)], factory: factory)
            timers[type] = timer
            return timer
        }
        timer.recordNanoseconds(max(0, duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000))
    }

    /// Counts messages of `topic` that the broker deleted before this worker read them.
    public func messagesSkipped(topic: String, count: Int64) {
        counter(Name.messagesSkipped, [("topic", topic)]).increment(by: count)
    }

    /// The counter of one series, created on first use.
    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        counters.withLock { counters in
            let key = ([label] + dimensions.flatMap { [$0.0, $0.1] }).joined(separator: "\u{0}")
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }

    /// Sets the store gauges.
    public func store(outboxPending: Int, interruptsPending: Int) {
        outbox.record(outboxPending)
        interrupts.record(interruptsPending)
    }

    /// Partitions the worker owns now.
    public var ownedPartitions: [TopicPartition] { owned.withLock { Array($0) }.sorted { $0.description < $1.description } }

    /// The worker was given partitions.
    func assigned(_ partitions: [TopicPartition]) {
        owned.withLock { $0.formUnion(partitions) }
    }

    /// The worker lost partitions: their lag series are removed.
    func revoked(_ partitions: [TopicPartition]) {
        owned.withLock { $0.subtract(partitions) }
        let gone = lag.withLock { lag in partitions.compactMap { lag.removeValue(forKey: $0) } }
        for gauge in gone { gauge.destroy() }
    }

    /// Sets the lag of owned partitions.
    public func consumerLag(_ values: [TopicPartition: Int64]) {
        let owned = self.owned.withLock { $0 }
        for (partition, value) in values where owned.contains(partition) {
            let gauge = lag.withLock { lag in
                if let gauge = lag[partition] { return gauge }
                let gauge = Gauge(label: Name.consumerLag, dimensions: [("topic", partition.topic), ("partition", "\(partition.partition)")], factory: factory)
                lag[partition] = gauge
                return gauge
            }
            gauge.record(value)
        }
    }
}

extension ProcessResult {
    /// The `result` label of `interlude_commands_total`.
    var metricLabel: String {
        switch self {
        case .applied: "applied"
        case .duplicate: "duplicate"
        case .rejected: "rejected"
        case .parked: "parked"
        case .deadLetter: "dead_lettered"
        }
    }
}
