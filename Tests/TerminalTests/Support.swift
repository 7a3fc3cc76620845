import Foundation
import InterludeWorker
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Tag {
    /// Tests that run the built `interlude` executable in a real pseudo-terminal (tmux) or as a
    /// process of its own and send it signals: what a user at a terminal sees and leaves behind.
    @Tag static var terminal: Self
}

/// A failure with the evidence (screen or log) in its message.
struct TerminalTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The repository (for scripts/) and the built executable.
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `interlude` executable, next to the test bundle.
    static func interlude() throws -> String {
        let path = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("interlude").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TerminalTestError("the interlude executable is not built at \(path); `swift build` (or make test) builds it")
        }
        return path
    }
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass (a screen or a log file has
/// no event to wait on). Returns whether it held.
func eventually(within seconds: Double, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try condition()
}

/// A folder that looks like a checkout to `interlude dev` (it has scripts/), so each test has
/// its own `.interlude` (cluster, workers, dev.env). Removing it stops its cluster.
final class Sandbox: Sendable {
    let folder: URL
    /// The folder removed at the end (the sandbox or a private parent of it).
    private let top: URL

    /// - Parameter privateParent: Put the checkout inside a folder with mode 0700 (like /root),
    ///   which the `postgres` user cannot enter.
    init(privateParent: Bool = false) throws {
        let base = URL(fileURLWithPath: "/tmp").appendingPathComponent("interlude-term-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        top = base
        folder = privateParent ? base.appendingPathComponent("checkout") : base
        if privateParent {
            chmod(base.path, 0o700)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("scripts"), withIntermediateDirectories: true)
        for script in ["pg-server.sh"] {
            try FileManager.default.copyItem(
                at: Paths.repository.appendingPathComponent("scripts/\(script)"), to: folder.appendingPathComponent("scripts/\(script)"))
        }
    }

    var pgDirectory: String { folder.appendingPathComponent(".interlude/pg").path }

    /// Runs scripts/pg-server.sh of the sandbox.
    func pgServer(_ command: String) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(folder.appendingPathComponent("scripts/pg-server.sh").path, [command, pgDirectory])
    }

    /// The postmaster's pid when the sandbox's cluster runs.
    func postmaster() async throws -> pid_t? {
        let (_, output) = try await pgServer("status")
        let words = output.split(separator: " ")
        return words.first == "running" ? words.last.flatMap { pid_t($0) } : nil
    }

    /// The pids `interlude dev` recorded for its children: the workers and the review console.
    func childPIDs() -> [pid_t] {
        let text = (try? String(contentsOf: folder.appendingPathComponent(".interlude/workers.pid"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Stops the cluster if a test left it running and removes every file (also the
    /// cluster's home outside the sandbox).
    func remove() async {
        _ = try? await pgServer("stop")
        let home = (try? await pgServer("home"))?.output ?? ""
        if !home.isEmpty && !home.hasPrefix(top.path) { try? FileManager.default.removeItem(atPath: home) }
        try? FileManager.default.removeItem(at: top)
    }
}

/// Whether a process is still there (a zombie counts as gone: it runs nothing).
func isAlive(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Processes whose working directory is `folder` and whose command line is `interlude ...`
/// (`dev`, `worker`, `review`): what a test must not leave behind.
func interludeProcesses(in folder: URL) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> String? in
        guard let pid = pid_t(entry), isAlive(pid),
            let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd"), cwd == folder.path,
            let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
        else { return nil }
        let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let first = arguments.first, first.hasSuffix("/interlude") else { return nil }
        return "\(pid): \(arguments.joined(separator: " "))"
    }
}

/// A private tmux server (its own socket) whose windows are real pseudo-terminals.
final class Tmux: Sendable {
    let socket = "interlude-test-\(UUID().uuidString.prefix(8).lowercased())"

    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let (status, output) = try await ChildProcess.run("/usr/bin/tmux", ["-L", socket, "-f", "/dev/null"] + arguments)
        guard status == 0 else { throw TerminalTestError("tmux \(arguments.joined(separator: " ")) failed (exit \(status)): \(output)") }
        return output
    }

    /// Starts `command` in a new 200x50 session named `name`, in `folder`. When the command
    /// ends, its exit status is printed as `[exited N]` and the pane stays open.
    func start(_ name: String, in folder: URL, _ command: String) async throws {
        let script = "\(command); echo \"[exited $?]\"; read _"
        try await run(["new-session", "-d", "-s", name, "-x", "200", "-y", "50", "-c", folder.path, script])
    }

    /// The pane's text, its scrollback included, wrapped lines joined.
    func screen(_ name: String) async throws -> String {
        try await run(["capture-pane", "-p", "-J", "-S", "-5000", "-t", name])
    }

    /// Waits until the screen shows `text` `count` times; throws with the screen otherwise.
    @discardableResult
    func waitFor(_ text: String, count: Int = 1, in name: String, seconds: Double = 60) async throws -> String {
        var last = ""
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            last = try await screen(name)
            if last.components(separatedBy: text).count - 1 >= count { return last }
            try? await Task.sleep(for: .milliseconds(100))
        }
        throw TerminalTestError("'\(text)' did not appear \(count) time(s) within \(seconds) s in tmux session \(name); the screen:\n\(last)")
    }

    /// Types `text` and Enter.
    func type(_ text: String, in name: String) async throws {
        try await run(["send-keys", "-t", name, "-l", text])
        try await run(["send-keys", "-t", name, "Enter"])
    }

    /// Sends a key by name (`C-c`).
    func key(_ key: String, in name: String) async throws {
        try await run(["send-keys", "-t", name, key])
    }

    /// Ends every pane's process and the server. The panes are killed first: tmux ends them
    /// with SIGHUP, which a shell started with SIGHUP ignored (as under some CI runners and
    /// `nohup`) cannot catch, and such a pane keeps the server alive.
    func kill() async {
        let panes = (try? await run(["list-panes", "-a", "-F", "#{pane_pid}"])) ?? ""
        for pid in panes.split(separator: "\n").compactMap({ pid_t($0.trimmingCharacters(in: .whitespaces)) }) {
            Foundation.kill(-pid, SIGKILL)  // the pane's process group: its shell and what it started
            Foundation.kill(pid, SIGKILL)
        }
        _ = try? await ChildProcess.run("/usr/bin/tmux", ["-L", socket, "kill-server"])
    }
}

/// Waits for a child to end, up to `seconds`; `nil` when it did not (it is then killed, so
/// nothing outlives the test).
func exitStatus(of child: ChildProcess, within seconds: Double) async -> Int32? {
    await withTaskGroup(of: Int32?.self) { group in
        group.addTask { await child.wait() }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        let first = await group.next() ?? nil
        if first == nil { child.kill9() }
        group.cancelAll()
        return first
    }
}
