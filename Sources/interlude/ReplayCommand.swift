import ArgumentParser
import Foundation
import Interlude
import InterludeKafka
import InterludeWorker

/// `interlude replay`: re-publishes a range of the runs or resumes topic.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-publish a range of the runs or resumes topic, keys and payloads unchanged (safe: commands are idempotent by id).",
        discussion: """
            Reads every partition of the topic (or --partition) from --from-offset, or from the first message at \
            or after --from-time, through --to-offset (inclusive; default: the last message now), and produces each \
            message again with the same key, payload and headers. Workers skip commands their ledger already holds, \
            so only commands that were never applied (lost, dead-lettered by a bug since fixed, or the ledger entry \
            swept) take effect.
            """)

    @Option(help: "runs or resumes.")
    var topic: String

    @Option(help: "First offset to re-publish, in every partition read.")
    var fromOffset: Int64?

    @Option(help: "Re-publish from the first message at or after this time (ISO 8601, e.g. 2026-12-07T03:00:00Z).")
    var fromTime: String?

    @Option(help: "Last offset to re-publish (inclusive), in every partition read. Default: the newest message now.")
    var toOffset: Int64?

    @Option(help: "Only this partition (repeat for several). Default: all.")
    var partition: [Int32] = []

    @Flag(help: "Show what would be re-published without publishing.")
    var dryRun = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard topic == "runs" || topic == "resumes" else { throw ValidationError("--topic must be runs or resumes (the command topics)") }
        guard (fromOffset == nil) != (fromTime == nil) else { throw ValidationError("give either --from-offset N or --from-time ISO8601") }
        if let fromOffset, fromOffset < 0 { throw ValidationError("--from-offset must be 0 or more") }
        if let fromOffset, let toOffset, toOffset < fromOffset { throw ValidationError("--to-offset \(toOffset) is before --from-offset \(fromOffset)") }
    }

    func run() async throws {
        let environment = try DeploymentEnvironment()
        let logger = makeLogger("interlude.replay")
        let name = topic == "runs" ? environment.topics.runs : environment.topics.resumes
        let admin = try KafkaAdmin(configuration: environment.adminConfiguration(), logger: logger)
        guard let metadata = try await admin.listTopics().first(where: { $0.name == name }) else {
            throw DemoError("topic '\(name)' does not exist at \(environment.bootstrapServers): check INTERLUDE_TOPIC_PREFIX and INTERLUDE_KAFKA_BOOTSTRAP_SERVERS")
        }
        let all = (0..<Int32(metadata.partitionCount))
        if let wrong = partition.first(where: { !all.contains($0) }) {
            throw DemoError("--partition \(wrong): topic '\(name)' has partitions 0 to \(metadata.partitionCount - 1)")
        }
        let partitions = (partition.isEmpty ? Array(all) : partition).map { TopicPartition(topic: name, partition: $0) }
        let reader = try KafkaPartitionReader(configuration: environment.consumerConfiguration(groupID: "interlude.cli"), logger: logger)
        let marks = try await reader.watermarks(partitions)
        var start: [TopicPartition: Int64] = [:]
        if let fromOffset {
            for partition in partitions { start[partition] = max(fromOffset, marks[partition]!.low) }
        } else {
            guard let text = fromTime, let date = Timestamp.parse(text) else {
                throw DemoError("--from-time \(fromTime ?? "") is not an ISO 8601 time: give for example 2026-12-07T03:00:00Z")
            }
            start = try await reader.offsets(at: date, partitions)
            start = try await Self.checkTimeLookup(start, date: date, marks: marks, reader: reader)
        }
        var last: [TopicPartition: Int64] = [:]
        for partition in partitions { last[partition] = min(toOffset ?? .max, marks[partition]!.high - 1) }
        let messages = try await reader.read(from: start, through: last)

        if !dryRun, !messages.isEmpty {
            let producer = try KafkaProducer(configuration: environment.producerConfiguration(), logger: logger)
            let results = await producer.send(messages.map { KafkaProducerRecord(topic: name, key: $0.key, value: $0.value, headers: $0.headers) })
            await producer.close()
            for result in results { _ = try result.get() }
        }
        let rows = partitions.map { partition -> (TopicPartition, Int64, Int64, Int) in
            (partition, start[partition] ?? 0, last[partition] ?? -1, messages.filter { $0.topicPartition == partition }.count)
        }
        if output.json {
            try Output.json([
                "topic": .string(name), "dry_run": .bool(dryRun), "messages": .number(Double(messages.count)),
                "partitions": .array(rows.map { ["partition": .number(Double($0.0.partition)), "from_offset": .number(Double($0.1)), "to_offset": .number(Double($0.2)), "messages": .number(Double($0.3))] }),
            ])
            return
        }
        Output.write(Output.table(["PARTITION", "FROM", "THROUGH", "MESSAGES"], rows.map { ["\($0.0.partition)", "\($0.1)", $0.2 < $0.1 ? "-" : "\($0.2)", "\($0.3)"] }))
        Output.write(dryRun ? "dry run: \(messages.count) messages of \(name) would be re-published" : "re-published \(messages.count) messages to \(name)")
    }
}

extension ReplayCommand {
    /// Brokers that cannot look offsets up by time (librdkafka's mock cluster, so `interlude
    /// dev`) answer "no message at or after it" for every partition. Where the newest message
    /// is at or after `date` that answer is wrong: such a partition is scanned from its oldest
    /// message for the first one at or after `date`. (A real broker only says "none" when the
    /// newest message is older, so it never gets the scan.)
    static func checkTimeLookup(
        _ start: [TopicPartition: Int64], date: Date, marks: [TopicPartition: KafkaWatermarks], reader: KafkaPartitionReader
    ) async throws -> [TopicPartition: Int64] {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var start = start
        for (partition, offset) in start {
            guard let range = marks[partition], range.high > range.low, offset >= range.high else { continue }
            let newest = try await reader.read(from: [partition: range.high - 1], through: [partition: range.high - 1])
            guard let stamp = newest.first?.timestampMilliseconds, stamp >= milliseconds else { continue }
            let all = try await reader.read(from: [partition: range.low], through: [partition: range.high - 1])
            start[partition] = all.first { ($0.timestampMilliseconds ?? .max) >= milliseconds }?.offset ?? range.high
        }
        return start
    }
}

/// `interlude retention`: deletes what is older than a cut-off.
struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Delete finished threads, published outbox messages and final command-ledger entries older than a cut-off.",
        discussion: """
            Finished means completed or failed; threads that are ready or interrupted are never deleted. A command \
            whose ledger entry is deleted would apply again if its message were replayed: keep --older-than longer \
            than the runs and resumes topics keep their messages.
            """)

    @Option(help: "The cut-off age: a number with d, h, m or s (30d, 12h).")
    var olderThan: String

    @Flag(help: "Count what would be deleted without deleting.")
    var dryRun = false

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let age = try Self.parseAge(olderThan)
        let cutoff = Date().addingTimeInterval(-age)
        let environment = try DeploymentEnvironment()
        let counts = try await environment.withStore { store in
            dryRun ? try await store.retentionCounts(olderThan: cutoff) : try await store.sweepRetention(olderThan: cutoff)
        }
        if output.json {
            try Output.json([
                "older_than": .string(olderThan), "cutoff": .string(Timestamp.format(cutoff)), "dry_run": .bool(dryRun),
                "threads": .number(Double(counts.threads)), "outbox": .number(Double(counts.outbox)), "ledger": .number(Double(counts.ledger)),
            ])
            return
        }
        Output.write(Output.table(["", dryRun ? "WOULD DELETE" : "DELETED"], [
            ["finished threads", "\(counts.threads)"], ["published outbox messages", "\(counts.outbox)"], ["command-ledger entries", "\(counts.ledger)"],
        ]))
        Output.write("cut-off \(Timestamp.format(cutoff))\(dryRun ? " (dry run: nothing deleted)" : "")")
    }

    /// Seconds in `30d`, `12h`, `90m`, `3600s` (or a bare number of seconds).
    static func parseAge(_ text: String) throws -> TimeInterval {
        let units: [Character: Double] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
        var number = Substring(text)
        var scale = 1.0
        if let last = text.last, let unit = units[last] {
            number = number.dropLast()
            scale = unit
        }
        guard let value = Double(number), value >= 0 else {
            throw DemoError("--older-than \(text) is not a duration: give a number with d, h, m or s (30d, 12h, 90m)")
        }
        return value * scale
    }
}
