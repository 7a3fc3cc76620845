import Foundation

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

    static func startPostgres(root: URL, directory: URL) throws -> String {
        let output = try runScript(root: root, arguments: ["start", directory.path])
        guard let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres") else {
            throw DemoError("scripts/pg-server.sh did not print a database URL; its output was: \(output)")
        }
        return url
    }

    static func stopPostgres(root: URL, directory: URL) {
        _ = try? runScript(root: root, arguments: ["stop", directory.path])
    }

    private static func runScript(root: URL, arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = root.appendingPathComponent("scripts/pg-server.sh")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            throw DemoError("scripts/pg-server.sh \(arguments.joined(separator: " ")) failed (exit \(process.terminationStatus)); see its messages above")
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
    let processes: [Process]

    init(count: Int, settings: [String: String], logDirectory: URL) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [Process] = []
        for i in 1...count {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["worker"]
            process.environment = ProcessInfo.processInfo.environment.merging(settings) { _, new in new }
            let log = logDirectory.appendingPathComponent("worker-\(i).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes.append(process)
        }
        self.processes = processes
    }

    /// SIGTERM to every worker, then waits for them to leave.
    func stop() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
    }
}
