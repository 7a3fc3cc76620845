import Foundation
import Interlude
import InterludeKafka
import InterludePostgres
import InterludeWorker
import InterludeTestSupport
import Testing

/// The operator commands (`threads`, `state`, `history`, `resume`, `replay`, `retention`) run as
/// the built `interlude` executable against a running stack, and a worker's HTTP endpoints.
@Suite("Inspect commands", .tags(.e2e), .serialized, .timeLimit(.minutes(10)))
struct InspectCommandTests {
    @Test("threads, state and history show the stack; resume by id and by value wait for the outcome; replay applies nothing twice; retention sweeps; the worker serves health and metrics")
    func operatorCommands() async throws {
        try await withSystem(partitions: 2) { system in
            let started = Date().addingTimeInterval(-1)
            let cli = CLI(system: system)
            let port = try await cli.startWorkerWithHTTP()
            let producer = try system.producer()
            let client = CommandClient(producer: producer, topics: system.topics)
            for (thread, recipient) in [("inspect-a", "a@example.com"), ("inspect-b", "b@example.com")] {
                try await client.send(CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: "approval", input: ["recipient": .string(recipient), "subject": "s"], config: nil, ifBusy: .reject)))
            }
            // A question with a deadline (15 minutes) that stays pending through the test.
            try await client.send(CommandMessage(id: "run-inspect-timeout", threadID: "inspect-timeout", body: .run(graph: "timeout-default", input: ["plan": "reboot"], config: nil, ifBusy: .reject)))
            await producer.close()
            try await system.waitUntil("the three threads wait for an answer") { try await system.checkpointer.threads(status: .interrupted).count == 3 }
            // One worker owns both command topics' two partitions.
            #expect(try await HTTPProbe.get(port: port, "/readyz") == (200, "ready: 4 partitions assigned\n"))

            // threads
            let table = try await cli.run(["threads"])
            #expect(table.status == 0 && table.output.contains("THREAD") && table.output.contains("inspect-a") && table.output.contains("interrupted"), "\(table)")
            let threads = try await cli.json(["threads", "--json"]).arrayValue ?? []
            #expect(threads.count == 3)
            #expect(threads.allSatisfy { $0["status"] == "interrupted" && $0["pending_interrupts"] == 1 }, "\(threads)")
            #expect(Set(threads.compactMap { $0["graph"]?.stringValue }) == ["approval", "timeout-default"])
            let timeoutThreads = try await cli.json(["threads", "--graph", "timeout-default", "--json"]).arrayValue ?? []
            #expect(timeoutThreads.map { $0["thread_id"] } == ["inspect-timeout"])
            #expect(try await cli.json(["threads", "--status", "completed", "--json"]) == [])
            let badStatus = try await cli.run(["threads", "--status", "done"])
            #expect(badStatus.status == 1 && badStatus.errors.contains("is not a thread status"), "\(badStatus)")

            // state and history
            let state = try await cli.json(["state", "inspect-a", "--json"])
            #expect(state["status"] == "interrupted")
            #expect(state["values"]?["recipient"] == "a@example.com")
            #expect(state["next"] == ["review"])
            let interrupt = try #require(state["interrupts"]?.arrayValue?.first?["interrupt_id"]?.stringValue, "\(state)")
            #expect(state["interrupts"]?.arrayValue?.first?["node"] == "review")
            let stateTable = try await cli.run(["state", "inspect-a"])
            #expect(stateTable.output.contains(interrupt) && stateTable.output.contains("a@example.com"), "\(stateTable)")
            let history = try await cli.json(["history", "inspect-a", "--json"]).arrayValue ?? []
            #expect(history.count >= 2)
            #expect(history.first?["checkpoint_id"] == state["checkpoint_id"])
            let timeoutState = try await cli.json(["state", "inspect-timeout", "--json"])
            let deadline = try #require(timeoutState["interrupts"]?.arrayValue?.first?["deadline"]?.stringValue, "\(timeoutState)")
            #expect(Timestamp.parse(deadline).map { $0 > Date().addingTimeInterval(10 * 60) } == true, "\(deadline)")
            #expect(try await cli.run(["state", "inspect-timeout"]).output.contains(deadline))
            let missing = try await cli.run(["state", "no-such-thread"])
            #expect(missing.status == 1 && missing.errors.contains("does not exist"), "\(missing)")

            // resume by interrupt id, by value, and once too often
            let byID = try await cli.json(["resume", "inspect-a", "--answer", "\(interrupt)={\"approved\": true}", "--json"])
            #expect(byID["type"] == "completed" && byID["values"]?["outcome"] != nil, "\(byID)")
            let byValue = try await cli.json(["resume", "inspect-b", "--value", "{\"approved\": true}", "--actor", "ana", "--json"])
            #expect(byValue["type"] == "completed", "\(byValue)")
            let resolvedBy = try await system.checkpointer.interrupts(thread: "inspect-b").first?.resolvedBy
            #expect(resolvedBy == "ana", "\(resolvedBy ?? "nil")")
            // Who answered shows in state (the answered interrupt) and history (the actor column).
            let answered = try await cli.json(["state", "inspect-b", "--json"])
            #expect(answered["answered"]?.arrayValue?.first?["resolved_by"] == "ana", "\(answered)")
            #expect(answered["metadata"]?["actor"] == ["id": "ana", "roles": []], "\(answered)")
            let historyTable = try await cli.run(["history", "inspect-b"])
            #expect(historyTable.output.contains("ACTOR") && historyTable.output.contains(" ana "), "\(historyTable)")
            let again = try await cli.run(["resume", "inspect-b", "--value", "true", "--json"])
            #expect(again.status == 2, "\(again)")
            #expect(try JSONValue(json: Data(again.output.utf8))["reason"] == "no_pending_interrupt", "\(again)")
            let badJSON = try await cli.run(["resume", "inspect-b", "--value", "yes"])
            #expect(badJSON.status == 1 && badJSON.errors.contains("is not JSON"), "\(badJSON)")

            // replay: the three resumes again; all are duplicates, nothing changes
            let versions = try await system.count(SQL.versionSum)
            let ledger = try await system.count(SQL.ledger)
            let replay = try await cli.json(["replay", "--topic", "resumes", "--from-offset", "0", "--json"])
            #expect(replay["messages"] == 3, "\(replay)")
            let duplicates = #"interlude_commands_total{type="resume",result="duplicate"} 3"#
            try await system.waitUntil("the worker counted three duplicate resumes", seconds: 60) {
                try await HTTPProbe.get(port: port, "/metrics").body.contains(duplicates)
            }
            #expect(try await system.count(SQL.versionSum) == versions)
            #expect(try await system.count(SQL.ledger) == ledger)
            let byTime = try await cli.json(["replay", "--topic", "runs", "--from-time", Timestamp.format(started), "--dry-run", "--json"])
            #expect(byTime["messages"] == 3 && byTime["dry_run"] == true, "\(byTime)")
            let later = try await cli.json(["replay", "--topic", "runs", "--from-time", Timestamp.format(Date().addingTimeInterval(3600)), "--dry-run", "--json"])
            #expect(later["messages"] == 0, "\(later)")
            let metrics = try await HTTPProbe.get(port: port, "/metrics").body
            for series in [
                #"interlude_commands_total{type="run",result="applied"} 3"#, #"interlude_commands_total{type="resume",result="applied"} 2"#,
                #"interlude_commands_total{type="resume",result="rejected"} 1"#, #"interlude_command_duration_seconds_count{type="run"} 3"#,
                "interlude_outbox_pending ", "interlude_interrupts_pending 1.0", #"interlude_consumer_lag{topic="\#(system.topics.runs)",partition=""#,
            ] {
                #expect(metrics.contains(series), "missing \(series) in:\n\(metrics)")
            }

            // retention: the two finished threads go, the one still waiting stays
            try await system.waitUntil("every outbox message is published") { try await system.checkpointer.gauges().outboxPending == 0 }
            let outbox = try await system.count(SQL.outbox)
            let dryRun = try await cli.json(["retention", "--older-than", "0s", "--dry-run", "--json"])
            #expect(dryRun["threads"] == 2 && dryRun["ledger"] == .number(Double(ledger)) && dryRun["outbox"] == .number(Double(outbox)), "\(dryRun)")
            #expect(try await system.count(SQL.threads) == 3)
            let swept = try await cli.json(["retention", "--older-than", "0s", "--json"])
            #expect(swept["threads"] == 2 && swept["ledger"] == .number(Double(ledger)) && swept["outbox"] == .number(Double(outbox)), "\(swept)")
            let left = try await cli.json(["threads", "--json"]).arrayValue ?? []
            #expect(left.map { $0["thread_id"] } == ["inspect-timeout"], "\(left)")
            #expect(try await system.count(SQL.ledger) == 0)
            #expect(try await system.count(SQL.outbox) == 0)
            #expect(try await cli.json(["state", "inspect-timeout", "--json"])["status"] == "interrupted")
            let statuses = await system.stopWorkers()
            #expect(statuses == [0], "\(system.workerLogs())")
        }
    }
}

/// Runs the built `interlude` executable with the stack's settings.
struct CLI {
    let system: System

    /// Starts a worker serving HTTP on a port the kernel picks; returns the port it logged.
    func startWorkerWithHTTP() async throws -> Int {
        let log = system.logDirectory.appendingPathComponent("worker-http.log")
        let environment = ProcessInfo.processInfo.environment.merging(system.settings()) { _, new in new }
            .merging(["INTERLUDE_HTTP_ADDRESS": "127.0.0.1:0"]) { _, new in new }
        system.workers.append(try ChildProcess(executable: try System.executable(), arguments: ["worker"], environment: environment, output: log.path))
        var port: Int?
        try await system.waitUntil("the worker logged its HTTP port", seconds: 60) {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            port = text.firstMatch(of: /http\.port=(\d+)/).flatMap { Int($0.1) }
            return port != nil
        }
        return port!
    }

    /// Exit status, stdout and stderr of `interlude ARGUMENTS`.
    func run(_ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        let folder = system.logDirectory
        let out = folder.appendingPathComponent("cli-\(UUID().uuidString).out")
        let err = folder.appendingPathComponent("cli-\(UUID().uuidString).err")
        var environment = ProcessInfo.processInfo.environment.merging(system.settings()) { _, new in new }
        environment["INTERLUDE_LOG_LEVEL"] = "error"
        // stdout to one file, stderr to another: the shell redirects stderr, then runs the CLI.
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "exec \"$0\" \"$@\" 2>\"\(err.path)\"", try System.executable()] + arguments,
            environment: environment, output: out.path)
        let status = await child.wait()
        return (status, (try? String(contentsOf: out, encoding: .utf8)) ?? "", (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// The JSON `interlude ARGUMENTS` printed; fails when it exited non-zero or printed no JSON.
    func json(_ arguments: [String]) async throws -> JSONValue {
        let result = try await run(arguments)
        guard result.status == 0 else { throw SystemError("interlude \(arguments.joined(separator: " ")) exited \(result.status): \(result.output)\(result.errors)") }
        do { return try JSONValue(json: Data(result.output.utf8)) } catch {
            throw SystemError("interlude \(arguments.joined(separator: " ")) printed no JSON: \(result.output)\(result.errors)")
        }
    }
}
