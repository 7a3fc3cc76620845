import Foundation
import Interlude
import InterludeExamples
import InterludePostgres
import InterludeWorker
import Testing

/// The subgraph example answered in the review console, as `interlude dev --graph
/// subgraph-review` serves it: a worker process and a console process over the mock cluster and
/// PostgreSQL. The answer is a form POST with the page's cookie and token (curl), no browser.
@Suite("Review console and a subgraph's question", .serialized)
struct ConsoleSubgraphTests {
    @Test("the console offers the subgraph's question with the draft buttons, and an edit sent there publishes the edited text", .timeLimit(.minutes(5)))
    func answerSubgraphQuestion() async throws {
        let stack = try await ConsoleStack()
        do {
            try await answer(stack)
        } catch {
            await stack.shutdown()
            throw error
        }
        await stack.shutdown()
    }

    private func answer(_ stack: ConsoleStack) async throws {
        let thread = "article-console"
        let (client, producer) = try stack.commands()
        try await client.send(CommandMessage(
            id: "run-\(thread)", threadID: thread, body: .run(graph: SubgraphReviewExample.name, input: ["topic": "tides"], config: nil, ifBusy: .reject)))
        await producer.close()
        let review = try await stack.waitUntil("the subgraph's question is pending") {
            try await stack.checkpointer.pendingReviews(PendingReviewQuery()).first { $0.interrupt.threadID == thread }
        }
        #expect(review.interrupt.node == "review")

        let jar = stack.logDirectory.appendingPathComponent("cookies.txt").path
        let url = "\(stack.consoleURL)/thread?id=\(thread)"
        let page = try await curl(["-sS", "-c", jar, "-b", jar, "-H", "\(ConsoleStack.actorHeader): tester", url])
        #expect(page.contains("id=\"edit\""), "the draft shape's buttons are offered")
        #expect(page.contains("A short piece on tides."))
        #expect(page.contains("asked inside the subgraph review:"), "the thread page names the subgraph that asks")
        let token = try #require(page.firstMatch(of: /name="csrf_token" value="([0-9a-f]{64})"/)?.1, "no CSRF token in the thread page")
        let posted = try await curl([
            "-sS", "-c", jar, "-b", jar, "-H", "\(ConsoleStack.actorHeader): tester", "-o", "/dev/null", "-w", "%{http_code}", "\(stack.consoleURL)/thread/answer",
            "--data-urlencode", "csrf_token=\(token)", "--data-urlencode", "thread_id=\(thread)",
            "--data-urlencode", "interrupt_id=\(review.interrupt.id)", "--data-urlencode", "decision=edit",
            "--data-urlencode", "draft=Tides, briefly.",
        ])
        #expect(posted == "303", "the answer POST got HTTP \(posted), expected a redirect to the thread page")

        let graph = try SubgraphReviewExample.makeGraph(checkpointer: stack.checkpointer)
        let done = try await stack.waitUntil("the thread completes after the console's answer") {
            try await graph.getState(thread: thread).flatMap { $0.next.isEmpty && $0.interrupts.isEmpty ? $0 : nil }
        }
        #expect(done.values.draft == "Tides, briefly.")
        #expect(done.values.approved)
        #expect(done.values.published)
        #expect(done.values.log == ["plan", "write", "review", "publish"])
    }

    private func curl(_ arguments: [String]) async throws -> String {
        let (status, output) = try await ChildProcess.run("/usr/bin/curl", arguments)
        guard status == 0 else { throw StackError("curl \(arguments.joined(separator: " ")) failed (exit \(status)): \(output)") }
        return output
    }
}
