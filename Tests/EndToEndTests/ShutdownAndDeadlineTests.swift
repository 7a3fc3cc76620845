import Foundation
import Interlude
import InterludeExamples
import InterludePostgres
import InterludeTestSupport
import InterludeWorker
import Synchronization
import Testing

/// A rolling deploy's SIGTERM, and deadlines swept by several workers at once.
@Suite("Shutdown and deadlines", .tags(.e2e), .serialized, .timeLimit(.minutes(10)))
struct ShutdownAndDeadlineTests {
    @Test("SIGTERM while a node sleeps 5 s: the node finishes and commits, the worker exits 0, and the command is not applied again")
    func sigtermDuringSlowNode() async throws {
        try await withSystem(partitions: 1) { system in
            try system.startWorkers(1)
            let traffic = ProbeTraffic(system: system, prefix: "slow", count: 1, edits: false, sleepMilliseconds: 5000)
            let thread = traffic.threads[0]
            let producer = try system.producer()
            let client = CommandClient(producer: producer, topics: system.topics)
            try await client.send(traffic.run(thread))
            await producer.close()
            try await system.waitUntil("the slow node started") { traffic.runs(of: "work")[thread] == 1 }
            system.workers[0].terminate()
            let status = await system.workers[0].wait()
            system.workers = []
            #expect(status == 0, "a worker exits 0 after a graceful drain: \(system.workerLogs())")
            // The node was not cancelled: its step was committed before the worker left.
            let record = try await system.checkpointer.thread(thread)
            #expect(record?.status == .interrupted, "the run reached its review before the worker exited: \(String(describing: record?.status))\n\(system.workerLogs())")
            #expect(try await system.count(SQL.appliedLedger) == 1)

            // The next worker gets the run command again (if its offset was not committed) and
            // must not run the node again; the run then completes.
            try system.startWorkers(1)
            _ = try await traffic.drive(seconds: 120)
            #expect(traffic.runs(of: "work")[thread] == 1, "the slow node ran once: \(traffic.effectLines())")
            #expect(traffic.runs(of: "finish")[thread] == 1)
            #expect(try await system.count(SQL.appliedLedger) == 2)
            #expect(try await system.count(SQL.completedThreads) == 1)
        }
    }

    @Test("SIGTERM while four nodes sleep past a 1 s grace: the worker cancels them and exits 0, and the next worker completes every run exactly once")
    func sigtermPastGrace() async throws {
        try await withSystem(partitions: 4) { system in
            try system.startWorkers(1, extra: ["INTERLUDE_SHUTDOWN_GRACE": "1"])
            let count = 4
            let traffic = ProbeTraffic(system: system, prefix: "past-grace", count: count, edits: false, sleepMilliseconds: 8000)
            try await traffic.sendRuns()
            try await system.waitUntil("a slow node started") { !traffic.runs(of: "work").isEmpty }
            let worker = system.workers[0]
            system.workers = []
            worker.terminate()
            // Bounded: a worker that never exits after its grace is the bug this test guards.
            let status = try await system.exitStatus(of: worker, "the worker exited after its grace (1 s)")
            #expect(status == 0, "a worker whose grace ran out still stops gracefully: \(system.workerLogs())")

            // The cancelled steps were not committed; the next worker runs them and every run
            // completes, each command applied once.
            try system.startWorkers(1)
            _ = try await traffic.drive(seconds: 180)
            #expect(try await system.count(SQL.completedThreads) == Int64(count))
            #expect(try await system.count(SQL.appliedLedger) == Int64(2 * count), "one run and one resume applied per thread")
            let finished = traffic.runs(of: "finish")
            #expect(finished.count == count && finished.values.allSatisfy { $0 == 1 }, "finish ran once per thread: \(traffic.effectLines())")
            // The first worker cancelled its sleeping steps (they did not commit): they ran again.
            #expect(traffic.runs(of: "work").values.contains(2), "a step cancelled past the grace ran again: \(traffic.effectLines())")
            let statuses = await system.stopWorkers()
            #expect(statuses == [0])
        }
    }

    @Test("SIGTERM while the worker's start-up waits (its migrations behind a lock held by the test): it exits 0, never having joined the group")
    func sigtermDuringStartup() async throws {
        try await withSystem(partitions: 1) { system in
            let key = PostgresValue.int64(try PostgresMigrations(schema: system.schema).lockKey)
            try await system.checkpointer.pool.withConnection { connection in
                try await connection.query(SQL.advisoryLock, [key])
                try system.startWorkers(1, extra: ["INTERLUDE_MIGRATE": "true"])
                let worker = system.workers[0]
                system.workers = []
                try await system.waitUntil("the worker waits for the migrations lock") { try await system.count(SQL.advisoryWaiters) == 1 }
                worker.terminate()
                try await connection.query(SQL.advisoryUnlock, [key])
                let status = try await system.exitStatus(of: worker, "the worker exited after its start-up")
                #expect(status == 0, "SIGTERM during start-up is a graceful stop: \(system.workerLogs())")
                #expect(system.workerLogs().contains("stopped during start-up, before joining the group") && !system.workerLogs().contains("worker started"), "the worker stopped before joining its group: \(system.workerLogs())")
            }
        }
    }

    @Test("the load driver's timeout fires when no event ever arrives (no worker runs)")
    func loadDriverTimesOutWithoutEvents() async throws {
        try await withSystem(partitions: 1) { system in
            await #expect(throws: LoadTimeout.self) {
                _ = try await system.driver.run(count: 1, timeout: .seconds(3), threadPrefix: "nobody")
            }
        }
    }

    @Test("three workers sweep 500 due deadlines: each fires exactly once (the continued step runs once) and every run continues with the default answer")
    func deadlineSweep() async throws {
        try await withSystem { system in
            try system.startWorkers(3)
            let count = 500
            let traffic = ProbeTraffic(system: system, prefix: "due", count: count, edits: false, reviewTimeoutSeconds: 3600)
            try await traffic.sendRuns()
            try await system.waitUntil("500 interrupts with a deadline", seconds: 180) { try await system.count(SQL.pendingDeadlines) == Int64(count) }
            // Every deadline becomes due at once, while three workers sweep.
            _ = try await system.checkpointer.pool.query(SQL.makeDeadlinesDue)
            try await system.waitUntil("every run continued past its deadline", seconds: 180) { try await system.count(SQL.completedThreads) == Int64(count) }
            let watcher = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.events])
            try await watcher.collect(until: { $0.filter { $0["type"] == "completed" }.count >= count }, seconds: 120)
            await watcher.consumer.close()
            #expect(try await system.count(SQL.expiredInterrupts) == Int64(count))
            // One commit for the run and one for the expiry per thread.
            #expect(try await system.count(SQL.threadsNotAtVersionTwo) == 0)
            let completed = watcher.all.filter { $0["type"] == "completed" }
            #expect(completed.allSatisfy { $0["values"]?["approved"] == false && $0["values"]?["outcome"] == "done" }, "the default answer applied")
            #expect(Set(completed.compactMap { $0["id"]?.stringValue }).count == count, "one completed event per thread")
            #expect(watcher.all.filter { $0["type"] == "failed" }.isEmpty)
            // A deadline fired by two workers would run the continued step twice even though
            // only one commit wins: `finish` ran exactly once per thread.
            let finished = traffic.runs(of: "finish")
            #expect(finished.count == count && finished.values.allSatisfy { $0 == 1 }, "finish ran more than once for \(finished.filter { $0.value != 1 }.count) threads")
            let statuses = await system.stopWorkers()
            #expect(statuses == [0, 0, 0])
        }
    }
}

extension SQL {
    static let pendingDeadlines = PostgresStatement("e2e.pending_deadlines", sql: "SELECT count(*) FROM interrupts WHERE status = 'pending' AND deadline IS NOT NULL")
    static let makeDeadlinesDue = PostgresStatement("e2e.make_due", sql: "UPDATE interrupts SET deadline = extract(epoch FROM now()) - 1 WHERE status = 'pending' AND deadline IS NOT NULL")
    static let advisoryLock = PostgresStatement("e2e.advisory_lock", sql: "SELECT pg_advisory_lock($1)")
    static let advisoryUnlock = PostgresStatement("e2e.advisory_unlock", sql: "SELECT pg_advisory_unlock($1)")
    static let advisoryWaiters = PostgresStatement("e2e.advisory_waiters", sql: "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    static let expiredInterrupts = PostgresStatement("e2e.expired", sql: "SELECT count(*) FROM interrupts WHERE status = 'expired'")
}

extension System {
    /// Waits at most `seconds` for `worker` to exit and returns its status; past that, kills it
    /// (SIGKILL) and fails with `what` and the worker logs.
    func exitStatus(of worker: ChildProcess, _ what: String, seconds: Double = 30) async throws -> Int32 {
        let exit = ExitStatus()
        Task { exit.set(await worker.wait()) }
        do {
            try await waitUntil(what, seconds: seconds) { exit.value != nil }
        } catch {
            worker.kill9()
            throw SystemError("timed out waiting until \(what): \(workerLogs())")
        }
        return exit.value!
    }
}

/// A child's exit status, set once by the task that waits for it.
private final class ExitStatus: Sendable {
    private let status = Mutex<Int32?>(nil)
    var value: Int32? { status.withLock { $0 } }
    func set(_ value: Int32) { status.withLock { $0 = value } }
}
