import ArgumentParser
import Foundation

/// The `interlude` command line. Errors never escape `main`: they print a clear message
/// and exit with status 1 (an error thrown out of an async `main` would crash with SIGILL).
/// Messages go through ``ConsoleWriter`` (never a C stdio flush of all streams: PITFALLS).
@main
enum Main {
    static func main() async {
        do {
            var command = try InterludeCommand.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = InterludeCommand.exitCode(for: error)
            let message = InterludeCommand.fullMessage(for: error)
            if code == .success {
                ConsoleWriter.standardOutput.line(message)
                exit(0)
            }
            ConsoleWriter.standardError.line(message.isEmpty ? "error: \(error)" : message)
            exit(1)
        }
    }
}

/// The root command: lists the subcommands in its help.
struct InterludeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interlude",
        abstract: "Run LangGraph-style agent graphs with human-in-the-loop pauses.",
        discussion: "Run 'interlude demo' to try the example graphs in this terminal.",
        subcommands: [
            DemoCommand.self, ListCommand.self, WorkerCommand.self, DevCommand.self, ReviewCommand.self, MigrateCommand.self,
            TopicsCommand.self, ConsoleCommand.self, ThreadsCommand.self, StateCommand.self, HistoryCommand.self,
            ResumeCommand.self, ReplayCommand.self, RetentionCommand.self,
        ]
    )
}
