import Foundation
import InterludeWorker
import Testing

extension TerminalTests {
    @Test("the review desk drops a question answered elsewhere while it is on screen, says who answered, and never asks a waiting one answered elsewhere", .timeLimit(.minutes(4)))
    func answeredElsewhere() async throws {
        let interlude = try Paths.interlude()
        try await inSandbox { sandbox, tmux in
            try await tmux.start("dev", in: sandbox.folder, "'\(interlude)' dev --runs 3")
            let first = try await tmux.waitFor(prompt, in: "dev", seconds: 90)
            let shown = try asking(first)
            let threads = ["dev-ana-0", "dev-bo-1", "dev-chen-2"]
            #expect(threads.contains(shown), "\(first)")
            let waiting = try #require(threads.first { $0 != shown })

            // Another client answers a question the desk has not shown yet, then the one on
            // screen (`interlude resume` waits for the outcome, so they are answered in turn).
            for (thread, actor) in [(waiting, "chen"), (shown, "bo")] {
                let answer = #"{"approved": true, "comment": "approved from outside"}"#
                let command = "cd '\(sandbox.folder.path)' && set -a && . .interlude/dev.env && set +a && exec '\(interlude)' resume \(thread) --actor \(actor) --value '\(answer)'"
                // The runs and resumes topics are read side by side: a resume that overtakes its
                // thread's run (or its pause) is refused, and is sent again.
                var (status, output) = try await ChildProcess.run("/bin/sh", ["-c", command])
                let deadline = ContinuousClock.now + .seconds(60)
                while status != 0, output.contains("unknown_thread") || output.contains("no_pending_interrupt"), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                    (status, output) = try await ChildProcess.run("/bin/sh", ["-c", command])
                }
                #expect(status == 0, "interlude resume \(thread): \(output)")
            }

            // The desk leaves the answered question without anything typed, and asks the third.
            let screen = try await tmux.waitFor(prompt, count: 2, in: "dev")
            #expect(screen.contains("-- thread \(shown): this question was already answered elsewhere (by bo); not asking it any more"), "\(screen)")
            let third = try asking(screen)
            #expect(third != shown && third != waiting, "the desk asked \(third) after \(shown) and \(waiting) were answered elsewhere:\n\(screen)")
            try await tmux.type("a", in: "dev")
            try await tmux.waitFor("All 3 runs completed.", in: "dev")
            let end = try await tmux.waitFor("[exited 0]", in: "dev")
            #expect(end.components(separatedBy: "== thread ").count - 1 == 2, "only two questions are asked: \(end)")
            #expect(!end.contains("== thread \(waiting) asks"), "\(end)")
            #expect(end.components(separatedBy: "completed: ").count - 1 == 3, "\(end)")
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
        }
    }

    /// The thread of the question last shown on `screen`.
    private func asking(_ screen: String) throws -> String {
        guard let last = screen.components(separatedBy: "== thread ").dropFirst().last, let thread = last.split(separator: " ").first else {
            throw TerminalTestError("no question on the screen:\n\(screen)")
        }
        return String(thread)
    }
}
