import ArgumentParser
import InterludeExamples

/// `interlude list`: the example graphs and what each shows.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the example graphs.")

    func run() throws {
        let width = ExampleCatalog.entries.map(\.name.count).max() ?? 0
        for entry in ExampleCatalog.entries {
            print(entry.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + entry.summary)
        }
    }
}
