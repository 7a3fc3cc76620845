import Foundation
import Interlude
import InterludeKafka
import InterludePostgres
import InterludeWorker
import Synchronization
import Testing

/// The fault tests at a larger scale, run by `make chaos` (scripts/chaos.sh), which sets
/// `INTERLUDE_CHAOS_REPORT` to a file that gets one table row per fault. Skipped otherwise.
@Suite("Chaos", .tags(.e2e), .serialized, .timeLimit(.minutes(30)), .enabled(if: ChaosReport.path != nil, "make chaos runs these (INTERLUDE_CHAOS_REPORT)"))
struct ChaosTests {
    /// Approval runs per fault: `INTERLUDE_CHAOS_RUNS`, default 2,000.
    static var runs: Int { Int(ProcessInfo.processInfo.environment["INTERLUDE_CHAOS_RUNS"] ?? "") ?? 2000 }

    /// Runs `runs` approval threads through three workers while `fault` acts, then records the
    /// outcome; the checks are those of the CI tests.
    /// `inject` starts with the load (sent at 100 runs/s, so 2,000 runs take 20 s) and returns
    /// after its faults, or is cancelled when the load completes first; it counts each fault it
    /// injected, the row says how many, and a load that completed before any fault landed
    /// fails: it proved nothing.
    func load(_ fault: String, filter: String, workers: Int = 3, _ inject: @escaping @Sendable (System, FaultCount) async throws -> Void) async throws {
        try await withSystem(partitions: 6) { system in
            try system.startWorkers(workers)
            let injected = FaultCount()
            var report: LoadDriver.Report?
            var failure: (any Error)?
            do {
                report = try await system.driver.run(count: Self.runs, timeout: .seconds(900), threadPrefix: "chaos", rate: 100, whileRunning: { _ in
                    try await inject(system, injected)
                })
            } catch {
                failure = error
            }
            let row = try await ChaosReport.row(system, fault: "\(fault): \(injected.value) injected", started: Self.runs, rejected: report?.rejected ?? -1, filter: filter)
            ChaosReport.append(row)
            #expect(injected.value > 0, "the load completed before the first fault was injected: raise INTERLUDE_CHAOS_RUNS")
            #expect(failure == nil, "\(String(describing: failure))\n\(system.workerLogs())")
            #expect(row.completed == Self.runs && row.appliedTwice == 0 && row.deadLettered == 0, "\(row)")
        }
    }

    @Test("kill -9 a random worker every few seconds")
    func killNine() async throws {
        try await load("kill -9 a random worker every 4 s (replaced at once), at most 8 times", filter: "killNine") { system, injected in
            for _ in 0..<8 {
                try await Task.sleep(for: .seconds(4))  // the fault's rhythm
                let victim = system.workers.remove(at: Int.random(in: 0..<system.workers.count))
                victim.kill9()
                _ = await victim.wait()
                try system.startWorkers(1)
                injected.add()
            }
        }
    }

    @Test("PostgreSQL restarted mid-load")
    func postgresRestart() async throws {
        try await load("PostgreSQL restarted (pg_ctl restart -m fast) every 5 s, at most twice", filter: "postgresRestart") { _, injected in
            for _ in 0..<2 {
                try await Task.sleep(for: .seconds(5))  // the fault's rhythm
                try await ChaosReport.restartPostgres()
                injected.add()
            }
        }
    }

    @Test("a worker stopped (SIGSTOP) past its session timeout, then continued")
    func sigstop() async throws {
        try await load("SIGSTOP a worker for 15 s (session timeout 10 s), then SIGCONT", filter: "sigstop") { system, injected in
            try await Task.sleep(for: .seconds(4))  // the fault's rhythm
            let pid = system.workers[0].pid
            kill(pid, SIGSTOP)
            // Continued whatever happens next (the load may complete while it is stopped).
            defer { kill(pid, SIGCONT) }
            injected.add()
            try await Task.sleep(for: .seconds(15))  // past the session timeout
        }
    }

    @Test("the broker down for 3 s every 8 s, at most three times")
    func brokerDown() async throws {
        try await load("the broker down for 3 s every 8 s, at most three times", filter: "brokerDown") { system, injected in
            for _ in 0..<3 {
                try await Task.sleep(for: .seconds(5))  // the fault's rhythm
                try system.cluster.setBrokerDown(1)
                injected.add()
                // Up again whatever happens next.
                defer { try? system.cluster.setBrokerUp(1) }
                try await Task.sleep(for: .seconds(3))  // the length of the outage
            }
        }
    }

    @Test("replaying both command topics from offset 0 after the load")
    func replay() async throws {
        try await withSystem(partitions: 6) { system in
            try system.startWorkers(3)
            let report = try await system.driver.run(count: Self.runs, timeout: .seconds(900), threadPrefix: "chaos")
            _ = await system.stopWorkers()
            let before = try await system.count(SQL.versionSum)
            let stats = try await system.replayFromStart(expectedCommands: 2 * Self.runs, seconds: 600)
            let after = try await system.count(SQL.versionSum)
            var row = try await ChaosReport.row(system, fault: "replay both command topics from offset 0 with a new group", started: Self.runs, rejected: report.rejected, filter: "ChaosTests/replay")
            row.appliedTwice += Int(after - before) + stats.processed
            ChaosReport.append(row)
            #expect(stats.processed == 0 && after == before, "\(stats)")
        }
    }
}

/// How many faults a chaos test injected.
final class FaultCount: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}

/// The table `make chaos` writes to RELIABILITY.md.
enum ChaosReport {
    static var path: String? { ProcessInfo.processInfo.environment["INTERLUDE_CHAOS_REPORT"].flatMap { $0.isEmpty ? nil : $0 } }

    struct Row: CustomStringConvertible {
        var fault: String
        var started: Int
        var completed: Int
        var appliedTwice: Int
        var deadLettered: Int
        var rejected: Int
        var filter: String
        var lost: Int { started - completed }
        var description: String {
            "| \(fault) | \(started) | \(completed) | \(lost) | \(appliedTwice) | \(deadLettered) | \(rejected) | `make chaos CHAOS_FILTER=\(filter)` |"
        }
    }

    /// What the store says after a fault: threads completed, threads whose version moved past
    /// one commit per command (applied twice), commands dead-lettered.
    static func row(_ system: System, fault: String, started: Int, rejected: Int, filter: String) async throws -> Row {
        Row(
            fault: fault, started: started, completed: Int(try await system.count(SQL.completedThreads)),
            appliedTwice: Int(try await system.count(SQL.threadsPastVersionTwo)), deadLettered: Int(try await system.count(SQL.deadLetteredLedger)),
            rejected: rejected, filter: filter)
    }

    static func append(_ row: Row) {
        guard let path, let handle = FileHandle(forWritingAtPath: path) ?? (FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil) else { return }
        handle.seekToEndOfFile()
        handle.write(Data((row.description + "\n").utf8))
        handle.closeFile()
    }

    /// Restarts the test PostgreSQL (scripts/with-test-postgres.sh exports where it is).
    static func restartPostgres() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let bindir = environment["INTERLUDE_TEST_PG_BINDIR"], let data = environment["INTERLUDE_TEST_PG_DATADIR"] else {
            throw SystemError("INTERLUDE_TEST_PG_BINDIR and INTERLUDE_TEST_PG_DATADIR are not set: run through scripts/with-test-postgres.sh")
        }
        let command = ["\(bindir)/pg_ctl", "restart", "-D", data, "-m", "fast", "-w", "-l", "\(data)/../server.log"]
        let (status, output) = getuid() == 0 ? try await ChildProcess.run("/usr/sbin/runuser", ["-u", "postgres", "--"] + command) : try await ChildProcess.run(command[0], Array(command.dropFirst()))
        guard status == 0 else { throw SystemError("pg_ctl restart failed (\(status)): \(output)") }
    }
}

extension SQL {
    static let threadsPastVersionTwo = PostgresStatement("e2e.past_two", sql: "SELECT count(*) FROM threads WHERE version > 2")
    static let deadLetteredLedger = PostgresStatement("e2e.dead_lettered", sql: "SELECT count(*) FROM command_ledger WHERE status = 'dead_lettered'")
}
