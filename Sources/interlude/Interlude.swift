import ArgumentParser

/// The `interlude` command line.
@main
struct InterludeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "interlude", abstract: "Run Interlude graphs.")
}
