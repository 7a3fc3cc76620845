import Foundation
import InterludeWorker
import Testing

extension TerminalTests {
    @Test("interlude dev --graph subgraph-review asks the subgraph's question at the desk with its namespace and finishes the runs answered there", .timeLimit(.minutes(4)))
    func devSubgraphReview() async throws {
        try await inSandbox { sandbox, tmux in
            try await tmux.start("dev", in: sandbox.folder, "'\(try Paths.interlude())' dev --graph subgraph-review --runs 2")
            try await tmux.waitFor(prompt, in: "dev", seconds: 90)
            try await tmux.type("e Tides, briefly.", in: "dev")
            try await tmux.waitFor(prompt, count: 2, in: "dev")
            try await tmux.type("r", in: "dev")
            try await tmux.waitFor("All 2 runs completed.", in: "dev")
            let screen = try await tmux.waitFor("[exited 0]", in: "dev")
            #expect(screen.contains("Started 2 subgraph-review runs."), "\(screen)")
            #expect(screen.components(separatedBy: "(subgraph-review / node review)").count - 1 == 2, "\(screen)")
            #expect(screen.components(separatedBy: "(asked inside the subgraph review:").count - 1 == 2, "\(screen)")
            #expect(screen.components(separatedBy: "published=true").count - 1 == 1, "the edited draft is published: \(screen)")
            #expect(screen.components(separatedBy: "published=false").count - 1 == 1, "the rejected one is not: \(screen)")
            #expect(interludeProcesses(in: sandbox.folder).isEmpty)
            #expect(try await sandbox.postmaster() == nil)
        }
    }

    @Test("interlude dev refuses a graph it cannot start runs of, naming the ones it can", .timeLimit(.minutes(1)))
    func devUnknownGraph() async throws {
        let (status, output) = try await ChildProcess.run(try Paths.interlude(), ["dev", "--graph", "no-such-graph"])
        #expect(status == 1, "\(output)")
        #expect(output.contains("interlude dev cannot start 'no-such-graph' runs; --graph takes one of: approval, subgraph-review"), "\(output)")
    }
}
