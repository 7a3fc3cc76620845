import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludePostgres
import InterludeWorker
import Testing

@testable import InterludeConsole

extension Tag {
    /// Tests that drive a real browser (headless Chromium through chromedriver and selenium).
    @Tag static var browser: Self
}

@Suite("Review console in a browser", .serialized)
struct ConsoleBrowserTests {
    @Test(
        "a reviewer lists the questions, opens threads, approves, rejects and edits in Chromium, and sees each run complete or be refused",
        .tags(.browser), .timeLimit(.minutes(10)))
    func reviewInBrowser() async throws {
        let python = try await BrowserTools.seleniumPython()
        let stack = try await ConsoleStack()
        do {
            try await review(stack, python: python)
        } catch {
            await stack.shutdown()
            throw error
        }
        await stack.shutdown()
    }

    private func review(_ stack: ConsoleStack, python: String) async throws {
        let (client, producer) = try stack.commands()
        let tool = try JSONValue(encoding: ToolReviewState(question: "What is 6 * 7?").messages)
        try await client.send([
            run("review-ana", "approval", ["recipient": "ana@example.com", "subject": "quarterly report"]),
            run("review-bo", "approval", ["recipient": "bo@example.com", "subject": "<b>board</b> minutes"]),
            run("review-cy", "edit-state", ["topic": "release notes"]),
            run("review-dee", "tool-review", ["messages": tool]),
        ])
        await producer.close()
        _ = try await stack.waitUntil("the four runs pause") {
            try await stack.checkpointer.pendingReviews(PendingReviewQuery()).count == 4 ? true : nil
        }

        // The list query's filters, straight against PostgreSQL.
        let store = stack.checkpointer
        let hourAgo = Date().addingTimeInterval(-3600)
        #expect(try await store.pendingReviews(PendingReviewQuery(raisedBefore: hourAgo)).isEmpty)
        #expect(try await store.pendingReviews(PendingReviewQuery(raisedAfter: hourAgo)).count == 4)
        #expect(try await store.pendingReviews(PendingReviewQuery(graph: "approval")).map(\.interrupt.threadID).sorted() == ["review-ana", "review-bo"])
        let all = try await store.pendingReviews(PendingReviewQuery())
        #expect(all.map(\.interrupt.createdAt) == all.map(\.interrupt.createdAt).sorted(), "not oldest first")
        #expect(try await store.pendingReviews(PendingReviewQuery(limit: 1)).map(\.interrupt.id) == [all[0].interrupt.id])
        #expect(try await store.pendingReviewGraphs() == ["approval", "edit-state", "tool-review"])

        let screenshots = ProcessInfo.processInfo.environment["INTERLUDE_CONSOLE_SCREENSHOTS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? stack.logDirectory.appendingPathComponent("screenshots").path
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("console_browser.py").path
        let (status, output) = try await ChildProcess.run(python, [script, stack.consoleURL, screenshots, ConsoleStack.actorHeader, "ana.reviewer"])
        #expect(status == 0, "the browser script failed (exit \(status)):\n\(output)\n\(stack.logs())")
        guard status == 0 else { return }

        // What the browser did, as PostgreSQL recorded it.
        var outcomes: [String: JSONValue] = [:]
        for thread in ["review-ana", "review-bo", "review-cy", "review-dee"] {
            let record = try #require(try await stack.checkpointer.thread(thread))
            #expect(record.status == .completed, "\(thread) is \(record.status), expected completed")
            let head = try #require(try await stack.checkpointer.checkpoint(thread: thread, id: nil))
            outcomes[thread] = .object(StateValues.values(of: head))
        }
        #expect(outcomes["review-ana"]?["outcome"] == "sent")
        #expect(outcomes["review-bo"]?["outcome"] == "rejected")
        #expect(outcomes["review-bo"]?["comment"] == "wrong recipient")
        #expect(outcomes["review-cy"]?["draft"] == "A shorter post, edited in the browser.")
        let toolRun = outcomes["review-dee"]?.description ?? ""
        #expect(toolRun.contains(#"calculator({\"a\":6,\"b\":8,\"op\":\"*\"})"#) && toolRun.contains("6 * 8 = 48"), "the edited call did not run: \(toolRun)")
        let pending = try await stack.checkpointer.pendingReviews(PendingReviewQuery())
        #expect(pending.isEmpty)
    }

    private func run(_ thread: String, _ graph: String, _ input: [String: JSONValue]) -> CommandMessage {
        CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: graph, input: input, config: nil, ifBusy: .reject))
    }
}

/// Finds Chromium and chromedriver and a Python with selenium (a venv made on first use in
/// the temporary folder, `pip install selenium` from PyPI).
enum BrowserTools {
    static func seleniumPython() async throws -> String {
        for tool in ["chromium", "chromedriver"] where which(tool) == nil {
            throw StackError("\(tool) is not installed: run scripts/install-deps.sh (it installs Debian's chromium and chromium-driver)")
        }
        let venv = FileManager.default.temporaryDirectory.appendingPathComponent("interlude-console-venv")
        let python = venv.appendingPathComponent("bin/python").path
        if FileManager.default.isExecutableFile(atPath: python), try await ChildProcess.run(python, ["-c", "import selenium"]).status == 0 {
            return python
        }
        guard let system = which("python3") else { throw StackError("python3 is not installed: the browser test runs selenium from Python") }
        let (made, madeOutput) = try await ChildProcess.run(system, ["-m", "venv", "--clear", venv.path])
        guard made == 0 else { throw StackError("python3 -m venv failed (install python3-venv: scripts/install-deps.sh):\n\(madeOutput)") }
        let (installed, output) = try await ChildProcess.run(python, ["-m", "pip", "install", "--quiet", "selenium"])
        guard installed == 0 else { throw StackError("pip install selenium failed:\n\(output)") }
        return python
    }

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
