import Foundation
import InterludeWorker
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import interlude

/// `interlude dev --auto-approve` refuses loads the embedded cluster would lose.
@Suite("interlude dev load size")
struct DevCommandLoadTests {
    @Test("An unpaced load of more runs per partition than the embedded cluster keeps is refused, naming the partitions it needs")
    func refusesOverflow() {
        let problem = DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 1, rate: nil)
        #expect(problem?.contains("--partitions 2 or more") == true, "\(problem ?? "accepted")")
        #expect(problem?.contains("--rate 250 or less") == true)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 25_000, partitions: 2, rate: nil)?.contains("--partitions 3 or more") == true)
    }

    @Test("A large load paced faster than the accepted rate per partition is refused too, naming the rate that is accepted")
    func refusesFastPace() {
        let problem = DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 1, rate: 5_000)
        #expect(problem?.contains("at --rate 5000") == true, "\(problem ?? "accepted")")
        #expect(problem?.contains("--rate 250 or less") == true)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 30_000, partitions: 2, rate: 600)?.contains("--rate 500 or less") == true)
    }

    @Test("--runs 0 is a stack with no runs under --serve, and refused for the interactive desk with what to add")
    func runCounts() {
        #expect(DevCommand.countProblem(workers: 1, runs: 0, toolReviews: 0, partitions: 4, brokers: 1, serve: true) == nil)
        #expect(DevCommand.countProblem(workers: 1, runs: 0, toolReviews: 2, partitions: 4, brokers: 1, serve: false) == nil)
        #expect(DevCommand.countProblem(workers: 1, runs: 0, toolReviews: 0, partitions: 4, brokers: 1, serve: false)?.contains("add --serve") == true)
        #expect(DevCommand.countProblem(workers: 0, runs: 3, toolReviews: 0, partitions: 4, brokers: 1, serve: false) == "--workers, --partitions and --brokers must be 1 or more")
        #expect(DevCommand.countProblem(workers: 1, runs: -1, toolReviews: 0, partitions: 4, brokers: 1, serve: true) == "--runs and --tool-reviews cannot be negative")
    }

    @Test("The interlude dev command itself refuses such a load, exit 1, before it starts or creates anything", .timeLimit(.minutes(1)))
    func commandRefuses() async throws {
        // A checkout of its own: were the guard missing, the stack would start here, not in
        // the repository's .interlude, and be stopped and removed below.
        let sandbox = try Sandbox()
        let log = sandbox.folder.appendingPathComponent("dev.log")
        let dev = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "cd '\(sandbox.folder.path)' && exec '\(try Paths.interlude())' dev --auto-approve 20000 --partitions 1"],
            environment: ProcessInfo.processInfo.environment, output: log.path)
        let status = await exitStatus(of: dev, within: 30)
        if status == nil {
            // It started instead: dev stops what it started; whatever is left is killed.
            kill(dev.pid, SIGTERM)
            _ = await exitStatus(of: dev, within: 60)
            for child in sandbox.childPIDs() where isAlive(child) { kill(child, SIGKILL) }
        }
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let started = FileManager.default.fileExists(atPath: sandbox.folder.appendingPathComponent(".interlude").path)
        await sandbox.remove()
        #expect(status == 1, "exit status; output:\n\(output)")
        #expect(output.contains("Use --partitions 2 or more, or pace the load with --rate 250 or less."), "\(output)")
        #expect(!started, "it started something")
    }

    @Test("Loads within the limit, paced loads and the interactive demo are accepted")
    func acceptsTheRest() {
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 10_000, partitions: 1, rate: nil) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 2, rate: nil) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 1, rate: 50) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 20_000, partitions: 1, rate: 250) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: 30_000, partitions: 2, rate: 500) == nil)
        #expect(DevCommand.overflowsEmbeddedCluster(runs: nil, partitions: 1, rate: nil) == nil)
    }
}
