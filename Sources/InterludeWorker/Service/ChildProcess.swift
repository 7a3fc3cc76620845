import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid` on a dedicated thread.
///
/// Foundation's `Process` never noticed its children exit when the program runs an async
/// `main` with no run loop here (they stayed zombies and `waitUntilExit` hung), so `dev` and
/// the end-to-end tests manage their children directly.
package final class ChildProcess: Sendable {
    package let pid: pid_t

    /// Starts `executable` with `arguments` and `environment`; stdout and stderr go to the
    /// file at `output` (appended; created if missing) or are inherited when it is `nil`.
    package init(executable: String, arguments: [String], environment: [String: String], output: String?) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else {
            throw ChildProcessError(description: "could not start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// Asks the process to stop (SIGTERM).
    package func terminate() { kill(pid, SIGTERM) }

    /// Waits for the process to end and returns its exit status (128 + signal when killed).
    package func wait() async -> Int32 {
        let pid = pid
        return await withCheckedContinuation { continuation in
            let waiter = Thread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                let exited = status & 0x7f == 0
                continuation.resume(returning: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
            waiter.name = "interlude.waitpid"
            waiter.start()
        }
    }

    /// Runs a command to its end, capturing stdout and stderr in a file, and returns its exit
    /// status and output.
    package static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("interlude-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: capture) }
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: ProcessInfo.processInfo.environment, output: capture)
        let status = await child.wait()
        let output = ((try? String(contentsOfFile: capture, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return (status, output)
    }
}

/// A child process could not be started.
package struct ChildProcessError: Error, CustomStringConvertible {
    package var description: String
}

extension ChildProcess {
    /// Kills the process at once (SIGKILL): a crash, for tests.
    package func kill9() { kill(pid, SIGKILL) }
}
