import Foundation
import Interlude
import InterludeWorker
import Synchronization
import Testing

/// A worker `_exit`s at a named point of its processing (`INTERLUDE_TEST_CRASH_AT`), a
/// replacement starts, and the runs in flight must all end exactly once.
@Suite("Crash points", .tags(.e2e), .serialized, .timeLimit(.minutes(10)))
struct CrashPointTests {
    /// Which arrival at the point exits: late enough that work is in flight, early enough that
    /// the traffic reaches it.
    static func crashAfter(_ point: WorkerPoint) -> Int {
        switch point {
        case .afterCommit: 3
        case .afterPublish: 2
        case .afterFailureCommit, .betweenUpdateAndContinue, .midBatch: 1
        }
    }

    @Test("a worker that crashes at a named point is replaced: no run lost, no command applied twice, no thread stuck", arguments: WorkerPoint.allCases)
    func crashAndReplace(_ point: WorkerPoint) async throws {
        try await withSystem(partitions: 2) { system in
            let faster = ["INTERLUDE_SESSION_TIMEOUT_MS": "6000"]
            try system.startWorkers(1, extra: faster.merging(["INTERLUDE_TEST_CRASH_AT": point.rawValue, "INTERLUDE_TEST_CRASH_AFTER": "\(Self.crashAfter(point))"]) { $1 })
            let crashing = system.workers[0]
            let status = Mutex<Int32?>(nil)
            let waiter = Task { let code = await crashing.wait(); status.withLock { $0 = code } }
            let traffic = ProbeTraffic(system: system, prefix: "crash-\(point.rawValue)", count: 30, failures: true)
            let events = try await traffic.drive(whileRunning: {
                try await system.waitUntil("the worker crashed at \(point.rawValue)", seconds: 150) { status.withLock { $0 } != nil }
                try system.startWorkers(1, extra: faster)
            })
            await waiter.value
            #expect(status.withLock { $0 } == 86, "the worker exits 86 at the crash point: \(system.workerLogs())")
            try await Self.expectExactlyOnce(system, traffic, events)
        }
    }

    /// Every thread completed, each command is in the ledger once and applied, each edit made
    /// one checkpoint, nothing was refused or failed, and `finish` ran for every thread.
    static func expectExactlyOnce(_ system: System, _ traffic: ProbeTraffic, _ events: [JSONValue]) async throws {
        let count = Int64(traffic.threads.count)
        #expect(try await system.count(SQL.threads) == count)
        #expect(try await system.count(SQL.notCompleted) == 0, "\(system.workerLogs())")
        #expect(try await system.count(SQL.ledger) == 2 * count)
        #expect(try await system.count(SQL.appliedLedger) == 2 * count)
        #expect(try await system.count(SQL.editCheckpoints) == Int64(traffic.edited.count))
        #expect(events.filter { $0["type"] == "rejected" || $0["type"] == "failed" }.isEmpty, "\(events.filter { $0["type"] == "rejected" || $0["type"] == "failed" })")
        let completed = events.filter { $0["type"] == "completed" }
        #expect(Set(completed.compactMap { $0["id"]?.stringValue }).count == traffic.threads.count, "one completed event id per thread (copies share it)")
        let finished = traffic.runs(of: "finish")
        #expect(traffic.threads.allSatisfy { (finished[$0] ?? 0) >= 1 }, "finish ran for every thread: \(finished)")
    }
}
