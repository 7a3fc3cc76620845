import Foundation
import InterludePostgres
import InterludeWorker
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `interlude dev` and `interlude review` as a user at a terminal meets them: a real
/// pseudo-terminal (tmux), nothing typed before the questions show, signals, a checkout under a
/// private folder. Each test has a sandbox checkout of its own; they run one at a time (each
/// starts PostgreSQL, the mock Kafka cluster and worker processes).
@Suite("Terminal", .serialized, .tags(.terminal))
struct TerminalTests {
    /// The end of a question: the help line and the prompt waiting for an answer (tmux drops
    /// the space after `>`).
    let prompt = "or a JSON answer\n   >"

    @Test("interlude dev in a real terminal shows the three questions before anything is typed and finishes when they are answered", .timeLimit(.minutes(4)))
    func devDesk() async throws {
        try await inSandbox { sandbox, tmux in
            try await tmux.start("dev", in: sandbox.folder, "'\(try Paths.interlude())' dev")
            // Nothing is typed until the first question is on screen: a desk whose output waits
            // on stdin (the fflush(nil) deadlock) fails here.
            try await tmux.waitFor(prompt, in: "dev", seconds: 90)
            try await tmux.type("a", in: "dev")
            try await tmux.waitFor(prompt, count: 2, in: "dev")
            try await tmux.type("r", in: "dev")
            try await tmux.waitFor(prompt, count: 3, in: "dev")
            // An edit sends the draft back for review: the same thread asks again.
            try await tmux.type("e a shorter report", in: "dev")
            try await tmux.waitFor(prompt, count: 4, in: "dev")
            try await tmux.type("a", in: "dev")
            try await tmux.waitFor("All 3 runs completed.", in: "dev")
            let screen = try await tmux.waitFor("[exited 0]", in: "dev")
            #expect(screen.components(separatedBy: "completed: ").count - 1 == 3)
            #expect(screen.contains("a shorter report"))
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
            #expect(try await sandbox.postmaster() == nil)
        }
    }

    @Test("interlude dev --tool-reviews in a real terminal: an edit outside the tool's schema is refused with its reason and asked again; respond and reject finish the runs", .timeLimit(.minutes(4)))
    func toolReviewDesk() async throws {
        try await inSandbox { sandbox, tmux in
            try await tmux.start("dev", in: sandbox.folder, "'\(try Paths.interlude())' dev --runs 1 --tool-reviews 2")
            // Questions come in any order: answer each by the thread that asks. The weather
            // call (dev-tools-0) is asked twice: its first answer breaks the tool's schema.
            var weatherAnswers = [#"e {"city": 7}"#, "respond Lisbon: hail"]
            for shown in 1...4 {
                let screen = try await tmux.waitFor("\n   >", count: shown, in: "dev", seconds: shown == 1 ? 90 : 60)
                let asking = screen.components(separatedBy: "== thread ").last ?? ""
                if asking.hasPrefix("dev-ana-0") {
                    try await tmux.type("a", in: "dev")
                } else if asking.hasPrefix("dev-tools-0"), !weatherAnswers.isEmpty {
                    try await tmux.type(weatherAnswers.removeFirst(), in: "dev")
                } else if asking.hasPrefix("dev-tools-1") {
                    try await tmux.type("r do it in your head", in: "dev")
                } else {
                    throw TerminalTestError("question \(shown) is not one the test expects:\n\(screen)")
                }
            }
            try await tmux.waitFor("All 3 runs completed.", in: "dev")
            let screen = try await tmux.waitFor("[exited 0]", in: "dev")
            #expect(screen.contains("command refused (invalid_value)"), "\(screen)")
            #expect(screen.contains("$.city: expected string, got 7"), "\(screen)")
            #expect(screen.contains("the question is still open; answer it again"))
            #expect(screen.contains("Here is what I found: Lisbon: hail"))
            #expect(screen.contains("rejected by the reviewer: do it in your head"))
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
        }
    }

    @Test("interlude review in a real terminal answers the runs of 'interlude dev --serve', and Ctrl-C stops that stack", .timeLimit(.minutes(4)))
    func reviewAgainstServe() async throws {
        let interlude = try Paths.interlude()
        try await inSandbox { sandbox, tmux in
            try await tmux.start("stack", in: sandbox.folder, "'\(interlude)' dev --serve --runs 2")
            try await tmux.waitFor("Serving:", in: "stack", seconds: 90)
            try await tmux.start("desk", in: sandbox.folder, "set -a; . .interlude/dev.env; set +a; '\(interlude)' review --until 2")
            try await tmux.waitFor(prompt, in: "desk", seconds: 90)
            try await tmux.type("a", in: "desk")
            try await tmux.waitFor(prompt, count: 2, in: "desk")
            try await tmux.type("r", in: "desk")
            try await tmux.waitFor("All 2 runs completed.", in: "desk")
            try await tmux.waitFor("[exited 0]", in: "desk")
            let workers = sandbox.childPIDs()
            let postmaster = try await sandbox.postmaster()
            #expect(workers.count == 3, "two workers and the review console")
            #expect(postmaster != nil)
            try await tmux.key("C-c", in: "stack")
            try await tmux.waitFor("[exited 130]", in: "stack", seconds: 60)
            #expect(workers.allSatisfy { !isAlive($0) })
            #expect(postmaster.map(isAlive) != true)
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
        }
    }

    @Test("SIGINT, SIGTERM and SIGHUP to interlude dev stop every worker and its PostgreSQL", .timeLimit(.minutes(5)), arguments: [SIGINT, SIGTERM, SIGHUP])
    func signals(signal: Int32) async throws {
        try await inSandbox { sandbox, _ in
            let log = sandbox.folder.appendingPathComponent("dev.log")
            let dev = try await serve(in: sandbox, log: log)
            let workers = sandbox.childPIDs()
            let postmaster = try await sandbox.postmaster()
            #expect(workers.count == 3, "two workers and the review console")
            #expect(postmaster != nil)
            kill(dev.pid, signal)
            let status = await exitStatus(of: dev, within: 60)
            #expect(status == 128 + signal, "exit status; output:\n\(read(log))")
            #expect(workers.allSatisfy { !isAlive($0) }, "a worker outlived interlude dev")
            #expect(postmaster.map(isAlive) != true, "PostgreSQL outlived interlude dev")
            #expect(try await sandbox.postmaster() == nil)
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
        }
    }

    @Test("A worker that dies under interlude dev is reported and started again; the replacement is the one stopped at the end", .timeLimit(.minutes(5)))
    func deadWorkerRestarted() async throws {
        try await inSandbox { sandbox, _ in
            let log = sandbox.folder.appendingPathComponent("dev.log")
            let dev = try await serve(in: sandbox, log: log)
            let before = sandbox.childPIDs()
            let victim = try #require(before.first, "no worker pid recorded")
            kill(victim, SIGKILL)
            let restarted = await eventually(within: 30) { read(log).contains("worker 1 started again (pid ") }
            let output = read(log)
            #expect(restarted, "no restart reported; output:\n\(output)")
            #expect(output.contains("worker 1 (pid \(victim)) was killed by signal 9; starting it again (restart 1 of 5; its log: .interlude/worker-1.log)"), "\(output)")
            let replacement = output.firstMatch(of: /worker 1 started again \(pid ([0-9]+)\)/).flatMap { pid_t($0.1) }
            #expect(replacement.map(isAlive) == true, "the replacement is not running")
            #expect(replacement.map { sandbox.childPIDs().contains($0) } == true, "workers.pid does not name the replacement")
            #expect(!sandbox.childPIDs().contains(victim), "workers.pid still names the dead worker")
            kill(dev.pid, SIGTERM)
            #expect(await exitStatus(of: dev, within: 60) == 128 + SIGTERM, "\(read(log))")
            #expect(replacement.map(isAlive) != true, "the replacement outlived interlude dev")
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
        }
    }

    @Test("A cluster and workers left by a killed interlude dev are found and stopped by the next one, which says so and drops the earlier run's schema", .timeLimit(.minutes(5)))
    func staleStack() async throws {
        try await inSandbox { sandbox, _ in
            let first = try await serve(in: sandbox, log: sandbox.folder.appendingPathComponent("first.log"))
            let oldWorkers = sandbox.childPIDs()
            let oldPostmaster = try await sandbox.postmaster()
            first.kill9()
            _ = await first.wait()
            #expect(oldWorkers.allSatisfy(isAlive), "the workers should outlive a SIGKILLed dev (nothing can stop them)")
            let secondLog = sandbox.folder.appendingPathComponent("second.log")
            let second = try await serve(in: sandbox, log: secondLog)
            // The dev cluster holds only the schema of the run now serving.
            let url = try await sandbox.pgServer("url").output.trimmingCharacters(in: .whitespacesAndNewlines)
            let connection = try await PostgresConnection.connect(url: url)
            let schemas = try await connection.query(Self.devSchemas).map { try $0.decode(String.self, at: 0) }
            connection.close()
            let current = read(secondLog).firstMatch(of: /schema (dev_[0-9]+)/).map { String($0.1) }
            #expect(current != nil && schemas == [current!], "schemas \(schemas) in the dev cluster, current run's \(current ?? "?")")
            kill(second.pid, SIGTERM)
            let status = await exitStatus(of: second, within: 60)
            let output = read(secondLog)
            #expect(status == 128 + SIGTERM)
            #expect(output.contains("still running from an earlier run (postmaster pid \(oldPostmaster ?? -1))"), "\(output)")
            #expect(output.contains("Stopped \(oldWorkers.count) processes (workers, review console) left running by an earlier run."), "\(output)")
            #expect(output.contains("Dropped 1 schema left by earlier runs"), "\(output)")
            #expect(oldWorkers.allSatisfy { !isAlive($0) })
            #expect(oldPostmaster.map(isAlive) != true)
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
        }
    }

    @Test("A second interlude dev in the same checkout refuses to start, names the first one's pid, and leaves the first one's workers and PostgreSQL running", .timeLimit(.minutes(5)))
    func secondDevInOneCheckout() async throws {
        try await inSandbox { sandbox, _ in
            let firstLog = sandbox.folder.appendingPathComponent("first.log")
            let first = try await serve(in: sandbox, log: firstLog)
            let workers = sandbox.childPIDs()
            let postmaster = try await sandbox.postmaster()
            #expect(workers.count == 3, "two workers and the review console")
            let secondLog = sandbox.folder.appendingPathComponent("second.log")
            let second = try spawn(["dev", "--serve", "--runs", "1"], in: sandbox, log: secondLog)
            let refused = await exitStatus(of: second, within: 60)
            if refused == nil {
                // It started instead: stop it, so the test leaves nothing running.
                kill(second.pid, SIGTERM)
                _ = await exitStatus(of: second, within: 60)
            }
            let output = read(secondLog)
            #expect(refused == 1, "exit status; output:\n\(output)")
            #expect(output.contains("another 'interlude dev' (pid \(first.pid)) is running in this checkout"), "\(output)")
            #expect(output.contains("kill -INT \(first.pid)"), "\(output)")
            #expect(workers.allSatisfy(isAlive), "the second run stopped the first one's workers; its output:\n\(output)")
            #expect(try await sandbox.postmaster() == postmaster, "the first run's PostgreSQL was stopped or replaced")
            #expect(sandbox.childPIDs() == workers, "the second run rewrote workers.pid")
            #expect(isAlive(first.pid))
            kill(first.pid, SIGTERM)
            #expect(await exitStatus(of: first, within: 60) == 128 + SIGTERM, "\(read(firstLog))")
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
        }
    }

    @Test("As root, a checkout under a 0700 folder starts and stops its cluster and runs interlude dev --auto-approve", .timeLimit(.minutes(4)), .enabled(if: getuid() == 0, "the postgres user only matters when run as root"))
    func privateCheckout() async throws {
        try await inSandbox(privateParent: true) { sandbox, _ in
            let started = try await sandbox.pgServer("start")
            #expect(started.status == 0, "\(started.output)")
            #expect(started.output.contains("the postgres user cannot reach \(sandbox.pgDirectory) (a parent folder is private)"), "\(started.output)")
            #expect(started.output.split(separator: "\n").last?.hasPrefix("postgres://") == true, "\(started.output)")
            let home = try await sandbox.pgServer("home").output
            #expect(!home.hasPrefix(sandbox.folder.path), "the cluster must live where postgres can reach it, not in \(home)")
            #expect(try await sandbox.postmaster() != nil)
            #expect(try await sandbox.pgServer("stop").status == 0)
            #expect(try await sandbox.postmaster() == nil)

            let log = sandbox.folder.appendingPathComponent("dev.log")
            let dev = try spawn(["dev", "--auto-approve", "3"], in: sandbox, log: log)
            let status = await exitStatus(of: dev, within: 150)
            let output = read(log)
            #expect(status == 0, "\(output)")
            #expect(output.contains("auto-approve: 3 runs completed"), "\(output)")
            #expect(!output.contains("\r"), "a progress line rewrote itself in a file")
            #expect(try await sandbox.postmaster() == nil)
        }
    }

    @Test("interlude dev --auto-approve shows a live progress line on a terminal", .timeLimit(.minutes(4)))
    func progressLine() async throws {
        try await inSandbox { sandbox, tmux in
            try await tmux.start("auto", in: sandbox.folder, "'\(try Paths.interlude())' dev --auto-approve 20")
            try await tmux.waitFor("progress: ", in: "auto", seconds: 90)
            let screen = try await tmux.waitFor("[exited 0]", in: "auto", seconds: 90)
            #expect(screen.contains("auto-approve: 20 runs completed"))
            #expect(screen.contains("completed, "), "\(screen)")
        }
    }

    /// Runs `body` with a sandbox checkout and a tmux server of its own, and removes both (with
    /// the cluster, if a failure left it running) however it ends.
    func inSandbox(privateParent: Bool = false, _ body: (Sandbox, Tmux) async throws -> Void) async throws {
        let sandbox = try Sandbox(privateParent: privateParent)
        let tmux = Tmux()
        do {
            try await body(sandbox, tmux)
        } catch {
            await tmux.kill()
            await sandbox.remove()
            throw error
        }
        await tmux.kill()
        await sandbox.remove()
    }

    /// Starts `interlude dev --serve --runs 1` in the sandbox and waits until it serves.
    private func serve(in sandbox: Sandbox, log: URL) async throws -> ChildProcess {
        let dev = try spawn(["dev", "--serve", "--runs", "1"], in: sandbox, log: log)
        guard await eventually(within: 90, { read(log).contains("Serving:") }) else {
            _ = await exitStatus(of: dev, within: 0)
            throw TerminalTestError("interlude dev did not start serving; its output:\n\(read(log))")
        }
        return dev
    }

    /// Starts `interlude ARGUMENTS` in the sandbox (through `sh -c 'cd ... && exec ...'`, so
    /// the pid is interlude's), its output to `log`.
    private func spawn(_ arguments: [String], in sandbox: Sandbox, log: URL) throws -> ChildProcess {
        let command = "cd '\(sandbox.folder.path)' && exec '\(try Paths.interlude())' \(arguments.joined(separator: " "))"
        return try ChildProcess(executable: "/bin/sh", arguments: ["-c", command], environment: ProcessInfo.processInfo.environment, output: log.path)
    }

    static let devSchemas = PostgresStatement("test.dev_schemas", sql: "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'dev\\_%' ORDER BY 1")

    private func read(_ file: URL) -> String {
        (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }
}
