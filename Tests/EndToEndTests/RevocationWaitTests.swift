import Foundation
import Interlude
import InterludeKafka
import InterludeWorker
import Synchronization
import Testing

/// An orderly revocation waits for the revoked partition's step in flight, so the partition's
/// next owner never runs that step again.
///
/// Why the set-up is shaped this way (found with `INTERLUDE_KAFKA_DEBUG=cgrp`, see
/// RELIABILITY.md): the mock cluster takes every join round `session.timeout.ms` - 1 s (9 s
/// here) and a cooperative handover needs two rounds, so a step shorter than ~9 s commits
/// before its partition's next owner fetches; and the cooperative-sticky assignor hands a
/// joining worker the resumes partitions first (whose steps are instant), so the resumes
/// topic gets 1 partition and the runs topic 3, and the joining worker's share includes a runs
/// partition.
@Suite("Revocation wait", .tags(.e2e), .serialized, .timeLimit(.minutes(5)))
struct RevocationWaitTests {
    static let threads = 24

    @Test("a worker joins while another runs 24 s steps on every runs partition: each step ran once, and none the first worker had started ran on the newcomer")
    func joinDuringLongSteps() async throws {
        try await withSystem(partitions: 3, resumesPartitions: 1) { system in
            let traffic = ProbeTraffic(system: system, prefix: "handover", count: Self.threads, edits: false, sleepMilliseconds: 24_000)
            // Sent before the first worker starts, so each of its lanes usually takes its
            // partition's runs as one batch (a lane that takes the first run alone still has a
            // step in flight, which is all the test needs).
            try await traffic.sendRuns()
            let byPartition = try await system.threadsByRunsPartition()
            try #require(byPartition.count == 3, "every runs partition holds a run: \(byPartition)")
            // The revocation may wait longer than the default 20 s allows, so the first worker
            // gets 120 s. The step's length is a compromise the mock cluster imposes. The
            // revocation starts one join round (~9 s) after the steps, so it waits the rest of
            // the step. The mock evicts a member whose revocation lasts past about 19-21 s (it
            // logs "Unknown member"; the step then runs again on the newcomer as a lost
            // partition's would): 30 s steps, a 21 s wait, failed 2 runs of 15. Without the
            // wait, the newcomer gets the partition one round after the revocation (~18 s after
            // the steps began), so a step must outlast that for the test to catch a missing
            // wait. 24 s leaves about 4 s on either side.
            try system.startWorkers(1, extra: ["INTERLUDE_REVOKE_TIMEOUT": "120"])
            let inFlight = Mutex<Set<String>>([])
            let events = try await traffic.drive(seconds: 240, send: false, whileRunning: {
                try await system.waitUntil("the first worker runs a step on every runs partition", seconds: 120) {
                    let started = Set(traffic.runs(of: "work").keys)
                    return byPartition.values.allSatisfy { !started.isDisjoint(with: $0) }
                }
                inFlight.withLock { $0 = Set(traffic.runs(of: "work").keys) }
                try system.startWorkers(1)
            })
            let first = "\(system.workers[0].pid)"
            let newcomer = "\(system.workers[1].pid)"
            let running = inFlight.withLock { $0 }
            // The scenario happened: the newcomer was given a runs partition on which the first
            // worker had a step in flight when the newcomer started.
            let handedOver = system.runsPartitionsAssigned(inLogOfWorker: 2)
            let busyHandedOver = Set(handedOver.flatMap { byPartition[$0] ?? [] }).intersection(running)
            #expect(!busyHandedOver.isEmpty, "the newcomer was given a runs partition with a step in flight: given \(handedOver), in flight \(running.sorted())\n\(system.workerLogs())")
            let work = traffic.effectLines().filter { $0.node == "work" }
            let twice = traffic.runs(of: "work").filter { $0.value != 1 }
            #expect(twice.isEmpty, "each run's work step ran once; ran more often: \(twice.sorted { $0.key < $1.key })\n\(system.workerLogs())")
            let rerun = work.filter { running.contains($0.thread) && $0.pid != first }
            #expect(rerun.isEmpty, "no step the first worker (pid \(first)) had started ran on the newcomer (pid \(newcomer)): \(rerun.map(\.thread).sorted())")
            #expect(traffic.runs(of: "finish").count == Self.threads && traffic.runs(of: "finish").values.allSatisfy { $0 == 1 })
            #expect(try await system.count(SQL.notCompleted) == 0)
            #expect(Set(events.filter { $0["type"] == "completed" }.compactMap { $0["thread_id"]?.stringValue }).count == Self.threads)
        }
    }
}

extension System {
    /// The threads whose runs went to each partition of the runs topic (read back from it).
    func threadsByRunsPartition() async throws -> [Int32: Set<String>] {
        let reader = try KafkaPartitionReader(configuration: consumerConfiguration, logger: logger)
        let partitions = (0..<3).map { TopicPartition(topic: topics.runs, partition: Int32($0)) }
        let marks = try await reader.watermarks(partitions)
        let messages = try await reader.read(
            from: Dictionary(uniqueKeysWithValues: partitions.map { ($0, marks[$0]?.low ?? 0) }),
            through: Dictionary(uniqueKeysWithValues: partitions.map { ($0, (marks[$0]?.high ?? 0) - 1) }))
        var threads: [Int32: Set<String>] = [:]
        for message in messages {
            threads[message.partition, default: []].insert(String(decoding: message.key ?? [], as: UTF8.self))
        }
        return threads
    }

    /// The runs partitions that worker `number` (in start order) logged as assigned to it.
    func runsPartitionsAssigned(inLogOfWorker number: Int) -> Set<Int32> {
        let log = (try? String(contentsOf: logDirectory.appendingPathComponent("worker-\(number).log"), encoding: .utf8)) ?? ""
        var partitions = Set<Int32>()
        for line in log.split(separator: "\n") where line.contains("partitions assigned") {
            var rest = line[...]
            while let range = rest.range(of: "\(topics.runs)[") {
                rest = rest[range.upperBound...]
                if let end = rest.firstIndex(of: "]"), let partition = Int32(rest[..<end]) { partitions.insert(partition) }
            }
        }
        return partitions
    }
}
