import Foundation
import Interlude
import InterludeWorker
import Synchronization
import Testing

/// Workers join and leave (SIGTERM, a rolling deploy's way) every few seconds while runs flow.
@Suite("Rebalance storm", .tags(.e2e), .serialized, .timeLimit(.minutes(15)))
struct RebalanceStormTests {
    /// Runs in the storm: `INTERLUDE_STORM_RUNS` (make chaos sets 2,000), 500 by default.
    static var runs: Int { Int(ProcessInfo.processInfo.environment["INTERLUDE_STORM_RUNS"] ?? "") ?? 500 }

    @Test("workers added and removed every few seconds during approval runs: all complete, each thread's ledger holds exactly its commands, and no step ran twice")
    func storm() async throws {
        try await withSystem(partitions: 6) { system in
            try system.startWorkers(2)
            let traffic = ProbeTraffic(system: system, prefix: "storm", count: Self.runs)
            let changes = Mutex<[String]>([])
            let exits = Mutex<[Int32]>([])
            // Paced so the storm spans the whole load: 10 runs a second, about 50 s of sending
            // for at least four membership changes (at 25 a second a quiet machine finished
            // the load after three).
            let events = try await traffic.drive(seconds: 600, slice: (10, .seconds(1)), whileRunning: {
                while true {
                    try await Task.sleep(for: .seconds(3))  // the storm's rhythm, not a wait for an outcome
                    if system.workers.count < 4, system.workers.count <= 1 || Bool.random() {
                        try system.startWorkers(1)
                        changes.withLock { $0.append("+1 -> \(system.workers.count)") }
                    } else {
                        let leaving = system.workers.remove(at: Int.random(in: 0..<system.workers.count))
                        leaving.terminate()
                        let status = await leaving.wait()
                        exits.withLock { $0.append(status) }
                        changes.withLock { $0.append("-1 -> \(system.workers.count)") }
                    }
                }
            })
            let twice = traffic.effectLines().reduce(into: [String: Int]()) { $0["\($1.thread) \($1.node)", default: 0] += 1 }.filter { $0.value != 1 }
            ChaosReport.append(ChaosReport.Row(
                fault: "rebalance storm: a worker added or removed (SIGTERM) every 3 s, 1 to 4 workers", started: Self.runs,
                completed: Int(try await system.count(SQL.completedThreads)), appliedTwice: twice.count,
                deadLettered: Int(try await system.count(SQL.deadLetteredLedger)),
                rejected: events.filter { $0["type"] == "rejected" }.count, filter: "RebalanceStormTests"))
            let history = changes.withLock { $0 }
            // A removal waits for the leaving worker's graceful exit (its revocation and drain),
            // which took up to ~25 s on a quiet machine, so the number of changes varies (one
            // run of 500 runs, with `work` sleeping 3 s, started 35 worker processes; before
            // the runs were sent alongside the storm it began only once all were sent, and two
            // changes were seen).
            #expect(history.count >= 4, "the membership changed during the load: \(history)")
            // 143 (ended by SIGTERM itself): a worker signalled in its first moments, before it
            // installs its signal handlers, so before it joined the group and held any
            // partition. The handlers are now installed before the store opens (a SIGTERM while
            // it opens exits 0: `sigtermDuringStartup`); the window left is the process's own
            // start (runtime, arguments, environment).
            #expect(exits.withLock { $0 }.allSatisfy { $0 == 0 || $0 == 143 }, "every worker removed exits 0 (or 143 before it started): \(exits.withLock { $0 })")
            try await CrashPointTests.expectExactlyOnce(system, traffic, events)
            // Only graceful revokes: a step committed by one worker never ran on another, and
            // no step was cut short, so each ran exactly once.
            #expect(twice.isEmpty, "steps that ran more than once: \(twice.sorted { $0.key < $1.key }.prefix(20))")
            #expect(traffic.runs(of: "work").count == Self.runs)
            #expect(traffic.runs(of: "finish").count == Self.runs)
        }
    }
}
