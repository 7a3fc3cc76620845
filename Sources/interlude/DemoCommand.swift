import ArgumentParser
import Foundation
import Interlude
import InterludeExamples

/// `interlude demo`: runs the example graphs in this process with an in-memory
/// checkpointer, asking the questions on the terminal.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the example graphs in this process, answering their questions on the terminal.",
        discussion: """
            Each pause prints the question and reads one answer line from stdin. A blank line or \
            end of input picks the default shown in the prompt (approve, keep, 21, Ada, yes, and \
            'let the deadline pass'), so the demo never waits on a closed stdin. The examples use an \
            in-memory checkpointer and a simulated clock. Examples: \
            \(ExampleCatalog.entries.map(\.name).joined(separator: ", ")).
            """
    )

    @Option(name: .long, help: "Run only this example (see 'interlude list'). Default: all, in turn.")
    var example: String?

    @Flag(name: .long, help: "Answer every question with the scripted answer instead of asking (for scripts and CI).")
    var autoApprove = false

    @Option(name: .long, help: "With --auto-approve: run the examples on this many threads at once, quietly, and print a summary.")
    var threads = 1

    func run() async throws {
        let cases: [DemoCase]
        if let example {
            guard let one = DemoCase.named(example) else {
                throw DemoError("unknown example '\(example)'; known: \(DemoCase.all.map(\.name).joined(separator: ", ")) (see 'interlude list')")
            }
            cases = [one]
        } else {
            cases = DemoCase.all
        }
        guard threads >= 1 else { throw DemoError("--threads must be 1 or more, got \(threads)") }
        guard threads == 1 || autoApprove else {
            throw DemoError("--threads \(threads) needs --auto-approve: several threads cannot share one terminal prompt")
        }
        let checkpointer = InMemoryCheckpointer()
        let clock = ManualClock(start: Date())
        if threads > 1 {
            try await runThreads(cases, checkpointer: checkpointer, clock: clock)
            return
        }
        let console = Console()
        for demo in cases {
            let summary = ExampleCatalog.entry(named: demo.name)?.summary ?? ""
            console.say("== \(demo.name): \(summary)")
            let context = DemoContext(
                console: console, auto: autoApprove, checkpointer: checkpointer, clock: clock, thread: "demo-\(demo.name)")
            let outcome = try await demo.run(context)
            guard outcome.status == .completed else {
                throw DemoError("example \(demo.name) ended \(outcome.status.rawValue), expected completed")
            }
            console.say()
        }
        let commits = checkpointer.commitCount
        console.say("Done: \(cases.count) example\(cases.count == 1 ? "" : "s") finished, \(commits) checkpoint commits in memory.")
    }

    /// Runs every case on `threads` threads at once with scripted answers and prints one
    /// summary line; fails if any run did not complete.
    private func runThreads(_ cases: [DemoCase], checkpointer: InMemoryCheckpointer, clock: ManualClock) async throws {
        let start = ContinuousClock.now
        let outcomes = try await withThrowingTaskGroup(of: [DemoOutcome].self) { group in
            for t in 1...threads {
                group.addTask {
                    var outcomes: [DemoOutcome] = []
                    for demo in cases {
                        let context = DemoContext(
                            console: nil, auto: true, checkpointer: checkpointer, clock: clock, thread: "demo-\(demo.name)-\(t)")
                        outcomes.append(try await demo.run(context))
                    }
                    return outcomes
                }
            }
            var all: [DemoOutcome] = []
            for try await some in group { all += some }
            return all
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let failed = outcomes.filter { $0.status != .completed }.count
        let resumes = outcomes.reduce(0) { $0 + $1.resumes }
        let commits = checkpointer.commitCount
        Console().say(
            "auto-approve: \(threads) threads x \(cases.count) examples = \(outcomes.count) runs, \(resumes) answers, "
                + "\(commits) commits, \(failed) not completed, in \(String(format: "%.3f", seconds)) s "
                + "(\(String(format: "%.0f", Double(outcomes.count) / max(seconds, 1e-9))) runs/s)")
        if failed > 0 { throw DemoError("\(failed) of \(outcomes.count) runs did not complete") }
    }
}
