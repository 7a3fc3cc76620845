import Dispatch
import Foundation
import InterludePostgres
import InterludeWorker
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The throwaway pieces `interlude dev` starts: PostgreSQL through the project's script, and
/// worker processes.
enum DevEnvironment {
    /// The folder with `scripts/pg-server.sh`: the current folder or one above it, or the
    /// package that built this executable (`.build/<config>/interlude`).
    static func projectRoot() throws -> URL {
        var candidates: [URL] = []
        var folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            candidates.append(folder)
            folder = folder.deletingLastPathComponent()
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent())
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("scripts/pg-server.sh").path) {
            return candidate
        }
        throw DemoError("cannot find scripts/pg-server.sh: run 'interlude dev' from the Interlude repository (make demo does)")
    }

    /// Takes `.interlude/dev.lock` for the rest of this process's life, so that a second
    /// `interlude dev` in the same checkout stops with an error instead of taking over the first
    /// one's PostgreSQL and stopping its workers (it would find them in `workers.pid`, as it
    /// finds those of a run that was killed). The lock is an advisory `flock` on a descriptor
    /// that is never closed and not inherited by child processes, so it ends with this process
    /// however it ends, `kill -9` included, and workers outliving a killed run do not hold it.
    /// - Throws: `DemoError` naming the running `interlude dev` (its pid, written in the file).
    static func lock(state: URL) throws {
        let path = state.appendingPathComponent("dev.lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DemoError("cannot open \(path): \(String(cString: strerror(errno))); check that the folder is writable")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            guard reason == EWOULDBLOCK else {
                throw DemoError("cannot lock \(path): \(String(cString: strerror(reason)))")
            }
            let written = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let owner: String? = written.isEmpty ? nil : written
            throw DemoError(
                "another 'interlude dev' (pid \(owner ?? "unknown")) is running in this checkout (\(state.path)): it owns .interlude/pg and its workers, "
                    + "and a second one would stop them. Stop it first (Ctrl-C in its terminal\(owner.map { ", or kill -INT \($0)" } ?? "")), or run from another checkout.")
        }
        // For a second run's message; the lock holds whether or not these succeed.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = write(descriptor, pid, pid.count)
    }

    /// Starts the cluster of `directory` and returns its URL. Lines the script printed before
    /// the URL (a stale cluster it stopped first) go to `console`.
    static func startPostgres(root: URL, directory: URL, console: Console) async throws -> String {
        let output = try await runScript(root: root, arguments: ["start", directory.path])
        var lines = output.split(separator: "\n").map(String.init)
        guard let url = lines.popLast(), url.hasPrefix("postgres") else {
            throw DemoError("scripts/pg-server.sh did not print a database URL; its output was: \(output)")
        }
        for line in lines { console.say(line) }
        return url
    }

    /// Drops the schemas earlier runs left in the dev cluster (`dev_<number>`, one per run), one
    /// transaction each so a long list never holds every lock at once. Their data belonged to
    /// a Kafka cluster that stopped with its run, so nothing can continue those runs; kept,
    /// they grew the dev cluster by every run (182 schemas, 5.3 GB seen after a day of
    /// benchmarks). The last run's schema stays until the next run starts, so it can still be
    /// inspected after `interlude dev` exits.
    /// - Returns: How many schemas were dropped.
    static func dropEarlierSchemas(database: String) async throws -> Int {
        let connection = try await PostgresConnection.connect(url: database)
        defer { connection.close() }
        let count = try await connection.query(DevStatements.countEarlierSchemas).first?.decode(Int64.self, at: 0) ?? 0
        for _ in 0..<count { _ = try await connection.execute(DevStatements.dropOneEarlierSchema) }
        return Int(count)
    }

    static func stopPostgres(root: URL, directory: URL) async {
        _ = try? await runScript(root: root, arguments: ["stop", directory.path])
    }

    private static func runScript(root: URL, arguments: [String]) async throws -> String {
        let (status, output) = try await ChildProcess.run(root.appendingPathComponent("scripts/pg-server.sh").path, arguments)
        guard status == 0 else {
            throw DemoError("scripts/pg-server.sh \(arguments.joined(separator: " ")) failed (exit \(status)): \(output)")
        }
        return output
    }

    /// The URL with its password hidden.
    static func masked(_ url: String) -> String {
        guard let at = url.range(of: "@"), let colon = url[..<at.lowerBound].range(of: ":", options: .backwards),
            url[..<colon.lowerBound].contains("//")
        else { return url }
        return String(url[..<colon.upperBound]) + "****" + String(url[at.lowerBound...])
    }
}

/// Worker processes started from this executable (`interlude worker`), stopped with SIGTERM.
///
/// A worker that stops on its own (a crash, an OOM kill, `kill -9` by hand) is reported on the
/// console and started again with the same port and log, at most ``maxRestarts`` times each:
/// meanwhile the other workers take over its partitions once its session times out.
final class WorkerFleet: Sendable {
    /// How many times one worker is started again after stopping on its own.
    static let maxRestarts = 5

    /// One worker's place in the fleet: its port and log stay, its process may be replaced.
    private final class Slot: Sendable {
        let number: Int
        let port: Int
        let log: String
        let process: Mutex<ChildProcess>

        init(number: Int, port: Int, log: String, process: ChildProcess) {
            self.number = number
            self.port = port
            self.log = log
            self.process = Mutex(process)
        }
    }

    /// Each worker's HTTP port (`/metrics`, `/healthz`, `/readyz` on 127.0.0.1).
    let httpPorts: [Int]
    private let slots: [Slot]
    private let executable: String
    private let environment: [String: String]
    private let stopping = Atomic(false)
    private let supervisors = Mutex<[Task<Void, Never>]>([])

    /// Starts `count` workers and watches them; `report` gets a line for every worker that
    /// stopped on its own and what was done about it.
    init(count: Int, settings: [String: String], logDirectory: URL, report: @escaping @Sendable (String) -> Void) throws {
        executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        environment = ProcessInfo.processInfo.environment.merging(settings) { _, new in new }
        let httpPorts = try (1...count).map { _ in try LocalPort.free() }
        self.httpPorts = httpPorts
        var slots: [Slot] = []
        for i in 1...count {
            let log = logDirectory.appendingPathComponent("worker-\(i).log").path
            let process = try Self.spawn(executable: executable, environment: environment, port: httpPorts[i - 1], log: log)
            // Registered at once, so a signal arriving while the others start stops this one too.
            DevShutdown.shared.track(worker: process.pid)
            slots.append(Slot(number: i, port: httpPorts[i - 1], log: log, process: process))
        }
        self.slots = slots
        supervisors.withLock { tasks in
            tasks = slots.map { slot in Task { await self.supervise(slot, report: report) } }
        }
    }

    private static func spawn(executable: String, environment: [String: String], port: Int, log: String) throws -> ChildProcess {
        try ChildProcess(
            executable: executable, arguments: ["worker"],
            environment: environment.merging(["INTERLUDE_HTTP_ADDRESS": "127.0.0.1:\(port)"]) { _, new in new }, output: log)
    }

    /// Waits for the slot's worker to end; unless the fleet or `interlude dev` is stopping,
    /// reports it and starts it again (up to ``maxRestarts`` times).
    private func supervise(_ slot: Slot, report: @Sendable (String) -> Void) async {
        var restarts = 0
        while true {
            let process = slot.process.withLock { $0 }
            let status = await process.wait()
            if stopping.load(ordering: .acquiring) || DevShutdown.shared.isStopping { return }
            let how = status > 128 ? "was killed by signal \(status - 128)" : "exited with status \(status)"
            let log = ".interlude/worker-\(slot.number).log"
            guard restarts < Self.maxRestarts else {
                report("worker \(slot.number) (pid \(process.pid)) \(how); it is not started again after \(Self.maxRestarts) restarts, and the other workers take over its partitions (its log: \(log))")
                return
            }
            restarts += 1
            report("worker \(slot.number) (pid \(process.pid)) \(how); starting it again (restart \(restarts) of \(Self.maxRestarts); its log: \(log))")
            try? await Task.sleep(for: .seconds(1))
            // Under the slot's lock, so that stop() either sees the new process or stops this.
            let restarted: Result<ChildProcess, any Error>? = slot.process.withLock { current in
                guard !stopping.load(ordering: .acquiring), !DevShutdown.shared.isStopping else { return nil }
                do {
                    let next = try Self.spawn(executable: executable, environment: environment, port: slot.port, log: slot.log)
                    DevShutdown.shared.track(worker: next.pid, replacing: current.pid)
                    current = next
                    return .success(next)
                } catch {
                    return .failure(error)
                }
            }
            switch restarted {
            case nil: return
            case .failure(let error)?:
                report("worker \(slot.number) could not be started again: \(error)")
                return
            case .success(let next)?:
                report("worker \(slot.number) started again (pid \(next.pid))")
            }
        }
    }

    /// Waits until every worker's `/readyz` answers 200 (it joined the consumer group, its
    /// store answers) and together they own all `partitions` of the command topics, so a load
    /// measured from now does not include the group's start-up, nor the rebalance of a late
    /// joiner (which first gets an empty assignment, then its share).
    /// - Throws: `DemoError` naming the workers still not ready after `timeout`, with where
    ///   their logs are.
    func waitUntilReady(partitions: Int, timeout: Duration, logDirectory: URL) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            var waiting: [Int] = []
            var owned = 0
            for (i, port) in httpPorts.enumerated() {
                // `ready: N partitions assigned`
                guard let answer = try? await HTTPProbe.get(port: port, "/readyz"), answer.status == 200 else {
                    waiting.append(i)
                    continue
                }
                owned += answer.body.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            }
            if waiting.isEmpty && owned >= partitions { return }
            guard ContinuousClock.now < deadline else {
                let logs = logDirectory.appendingPathComponent("worker-N.log").path
                if waiting.isEmpty {
                    throw DemoError("the workers own \(owned) of the \(partitions) command partitions after \(timeout); their logs (\(logs)) show the group's assignments")
                }
                throw DemoError("not ready after \(timeout): worker \(waiting.map { "\($0 + 1)" }.joined(separator: ", ")); its /readyz says why, and its log (\(logs)) shows what it did")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// SIGTERM to every worker, then waits for them to leave (none is started again).
    func stop() async {
        stopping.store(true, ordering: .releasing)
        for slot in slots { slot.process.withLock { $0.terminate() } }
        for task in supervisors.withLock({ $0 }) { await task.value }
    }
}

/// Everything `interlude dev` started that must not outlive it: the worker processes and the
/// PostgreSQL cluster. SIGINT (Ctrl-C, also through `make`), SIGTERM and SIGHUP (the terminal
/// closed) stop them and exit with 128 + the signal number, whatever the main task is waiting
/// on (a line on stdin, a Kafka event). A pid file lets the next run stop workers a SIGKILL
/// left behind.
final class DevShutdown: Sendable {
    /// The one instance: signals are per process.
    static let shared = DevShutdown()

    private struct Started {
        var root: URL?
        var pgDirectory: URL?
        var pidFile: URL?
        var workers: [pid_t] = []
    }
    private let started = Mutex(Started())
    private let stopping = Atomic(false)
    /// Dispatch sources must stay alive to deliver. Written once, by ``install()`` on the main
    /// task before anything else runs, and never read: hence `nonisolated(unsafe)`.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Catches SIGINT, SIGTERM and SIGHUP from now on, and ignores SIGPIPE (output to a closed
    /// pipe is dropped by ``ConsoleWriter`` instead of killing the process before it cleaned up).
    func install() {
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "interlude.dev.signals")
        Self.sources = [SIGINT, SIGTERM, SIGHUP].map { signo in
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler { [self] in stopEverything(signal: signo) }
            source.resume()
            return source
        }
    }

    /// Remembers the cluster to stop.
    func track(postgres directory: URL, root: URL) {
        started.withLock {
            $0.pgDirectory = directory
            $0.root = root
        }
    }

    /// Remembers a child process (a worker or the review console) to stop, and writes the pid
    /// file when one was named. `replacing` names a worker that ended and that `pid` was
    /// started in place of: it is forgotten (its pid may be reused by an unrelated process).
    func track(worker pid: pid_t, replacing old: pid_t? = nil) {
        let (file, pids) = started.withLock { started -> (URL?, [pid_t]) in
            if let old { started.workers.removeAll { $0 == old } }
            started.workers.append(pid)
            return (started.pidFile, started.workers)
        }
        if let file { try? pids.map(String.init).joined(separator: "\n").appending("\n").write(to: file, atomically: true, encoding: .utf8) }
    }

    /// Names the pid file for the workers of this run, after stopping any worker an earlier
    /// run left running (its `interlude dev` was killed with SIGKILL). Returns how many it stopped.
    func adoptPidFile(_ file: URL) -> Int {
        var stopped = 0
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            let leftovers = text.split(separator: "\n").compactMap { pid_t($0) }.filter(Self.isWorker)
            for pid in leftovers { kill(pid, SIGTERM) }
            for pid in leftovers where Self.waitGone(pid, seconds: 10) == false { kill(pid, SIGKILL) }
            stopped = leftovers.count
        }
        try? FileManager.default.removeItem(at: file)
        started.withLock { $0.pidFile = file }
        return stopped
    }

    /// Whether a signal is stopping everything (workers that end now were stopped by it).
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// The workers were stopped the ordinary way.
    func workersStopped() {
        let file = started.withLock { started -> URL? in
            started.workers = []
            return started.pidFile
        }
        if let file { try? FileManager.default.removeItem(at: file) }
    }

    /// Stops the workers (SIGTERM, then SIGKILL after 10 s) and the cluster, then exits.
    /// Runs on the signal queue; blocking there is fine.
    private func stopEverything(signal signo: Int32) -> Never {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else {
            // A second signal while stopping: keep stopping (exit comes from the first).
            while true { pause() }
        }
        let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"][signo] ?? "signal \(signo)"
        let out = ConsoleWriter.standardOutput
        out.line("")
        out.line("\(name): stopping the workers and PostgreSQL...")
        let snapshot = started.withLock { $0 }
        for pid in snapshot.workers { kill(pid, SIGTERM) }
        for pid in snapshot.workers where Self.waitGone(pid, seconds: 10) == false {
            kill(pid, SIGKILL)
            _ = Self.waitGone(pid, seconds: 5)
        }
        if let file = snapshot.pidFile { try? FileManager.default.removeItem(at: file) }
        if let root = snapshot.root, let directory = snapshot.pgDirectory {
            let script = root.appendingPathComponent("scripts/pg-server.sh").path
            if let child = try? ChildProcess(executable: script, arguments: ["stop", directory.path], environment: ProcessInfo.processInfo.environment, output: "/dev/null") {
                var status: Int32 = 0
                while waitpid(child.pid, &status, 0) == -1 && errno == EINTR {}
            }
        }
        out.line("Stopped.")
        // _exit, not exit: exit's stdio clean-up could wait on stdin's lock, held by the reader
        // thread blocked in readLine; all output went through write(2) already.
        _exit(128 + signo)
    }

    /// Whether `pid` runs `interlude worker` (a pid from an old file may have been reused).
    private static func isWorker(_ pid: pid_t) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.count >= 2 && arguments[0].hasSuffix("interlude") && ["worker", "console"].contains(arguments[1])
    }

    /// Waits up to `seconds` for `pid` to end, reaping it when it is our child. `true` when gone.
    private static func waitGone(_ pid: pid_t, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            // ECHILD: not our child, or reaped by another waiter; then kill(0) tells.
            if reaped == pid || (reaped == -1 && errno == ECHILD && kill(pid, 0) == -1 && errno == ESRCH) { return true }
            usleep(20_000)
        }
        return false
    }
}

/// The SQL of ``DevEnvironment/dropEarlierSchemas(database:)``: schema names cannot be
/// parameters, so the drop quotes the name itself (`format('%I')`).
enum DevStatements {
    static let countEarlierSchemas = PostgresStatement(
        "dev.count_earlier_schemas", sql: "SELECT count(*)::int8 FROM pg_namespace WHERE nspname ~ '^dev_[0-9]+$'")
    static let dropOneEarlierSchema = PostgresStatement(
        "dev.drop_earlier_schema",
        sql: """
            DO $$
            DECLARE victim text;
            BEGIN
                SET LOCAL client_min_messages = warning;
                SELECT nspname INTO victim FROM pg_namespace WHERE nspname ~ '^dev_[0-9]+$' ORDER BY nspname LIMIT 1;
                IF victim IS NOT NULL THEN
                    EXECUTE format('DROP SCHEMA %I CASCADE', victim);
                END IF;
            END $$
            """)
}
