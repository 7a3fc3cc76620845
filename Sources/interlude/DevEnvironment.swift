import Foundation
import InterludeWorker

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

    static func startPostgres(root: URL, directory: URL) async throws -> String {
        let output = try await runScript(root: root, arguments: ["start", directory.path])
        guard let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres") else {
            throw DemoError("scripts/pg-server.sh did not print a database URL; its output was: \(output)")
        }
        return url
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
final class WorkerFleet: Sendable {
    let children: [ChildProcess]
    /// Each worker's HTTP port (`/metrics`, `/healthz`, `/readyz` on 127.0.0.1).
    let httpPorts: [Int]

    init(count: Int, settings: [String: String], logDirectory: URL) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let environment = ProcessInfo.processInfo.environment.merging(settings) { _, new in new }
        let httpPorts = try (1...count).map { _ in try LocalPort.free() }
        self.httpPorts = httpPorts
        children = try (1...count).map { i in
            try ChildProcess(executable: executable, arguments: ["worker"], environment: environment.merging(["INTERLUDE_HTTP_ADDRESS": "127.0.0.1:\(httpPorts[i - 1])"]) { _, new in new }, output: logDirectory.appendingPathComponent("worker-\(i).log").path)
        }
    }

    /// SIGTERM to every worker, then waits for them to leave.
    func stop() async {
        for child in children { child.terminate() }
        for child in children { _ = await child.wait() }
    }
}
