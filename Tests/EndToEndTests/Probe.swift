import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludePostgres
import InterludeTestSupport
import InterludeWorker

/// Runs of the `fault-probe` graph (see `FaultProbeExample`) driven in two phases: every
/// run to its review interrupt, then a resume or an `update_state` that continues, to the end.
/// Each run's `work` and `finish` steps append `TAG NODE PID` to one side-effect file, so a
/// test counts which step ran how often and where.
struct ProbeTraffic {
    let system: System
    let threads: [String]
    /// Threads answered with an `update_state` as `review` plus `continue` instead of a resume.
    let edited: Set<String>
    /// Threads whose `work` fails twice before it succeeds.
    let failing: Set<String>
    let sleepMilliseconds: Int
    let reviewTimeoutSeconds: Int
    let effects: String

    /// `count` threads named `prefix-N`; every second one is edited, every third one fails
    /// twice when `failures` is set.
    init(system: System, prefix: String, count: Int, edits: Bool = true, failures: Bool = false, sleepMilliseconds: Int = 0, reviewTimeoutSeconds: Int = 0) {
        self.system = system
        threads = (0..<count).map { "\(prefix)-\($0)" }
        edited = edits ? Set(threads.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)) : []
        failing = failures ? Set(threads.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)) : []
        self.sleepMilliseconds = sleepMilliseconds
        self.reviewTimeoutSeconds = reviewTimeoutSeconds
        effects = system.logDirectory.appendingPathComponent("effects-\(prefix).txt").path
    }

    func run(_ thread: String) -> CommandMessage {
        let input: [String: JSONValue] = [
            "tag": .string(thread), "effects": .string(effects), "sleep_ms": .number(Double(sleepMilliseconds)),
            "fail_times": .number(failing.contains(thread) ? 2 : 0), "review_timeout_s": .number(Double(reviewTimeoutSeconds)),
        ]
        return CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: FaultProbeExample.name, input: input, config: nil, ifBusy: .reject))
    }

    /// The second command of a thread, answering the interrupt `interruptID`.
    func answer(_ thread: String, interruptID: String) -> CommandMessage {
        if edited.contains(thread) {
            return CommandMessage(id: "edit-\(thread)", threadID: thread, body: .updateState(values: ["approved": true], asNode: "review", checkpointID: nil, continueRun: true))
        }
        return CommandMessage(id: "answer-\(thread)", threadID: thread, body: .resume(value: nil, values: [interruptID: ["approved": true]], checkpointID: nil))
    }

    /// Sends every run, answers each thread's first interrupt once, and returns when every
    /// thread completed (or fails after `seconds`). `whileRunning` runs alongside (faults).
    /// With `slice`, the runs go out `slice.count` at a time, one slice per `slice.every`.
    /// Sends the `run` command of every thread, and nothing else.
    func sendRuns() async throws {
        let producer = try system.producer()
        let client = CommandClient(producer: producer, topics: system.topics)
        do { try await client.send(threads.map(run)) } catch {
            await producer.close()
            throw error
        }
        await producer.close()
    }

    /// With `send` false the runs are not sent (the test sent them with ``sendRuns()``).
    func drive(seconds: Double = 180, slice: (count: Int, every: Duration)? = nil, send sendsRuns: Bool = true, whileRunning: (@Sendable () async throws -> Void)? = nil) async throws -> [JSONValue] {
        let producer = try system.producer()
        let client = CommandClient(producer: producer, topics: system.topics)
        let watcher = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.reviews, system.topics.events])
        do {
            let threads = self.threads
            // The runs go out while answers and faults proceed: a fault during a paced load
            // meets commands at every stage, not only the tail of the load.
            let send: @Sendable () async throws -> Void = {
                guard sendsRuns else { return }
                if let slice {
                    for start in stride(from: 0, to: threads.count, by: slice.count) {
                        if start > 0 { try await Task.sleep(for: slice.every) }  // the pace of the load, not a wait for an outcome
                        try await client.send(threads[start..<min(start + slice.count, threads.count)].map(run))
                    }
                } else {
                    try await client.send(threads.map(run))
                }
            }
            try await answerUntilCompleted(client, watcher, seconds: seconds, send: send, whileRunning: whileRunning)
        } catch {
            await watcher.consumer.close()
            await producer.close()
            throw error
        }
        await watcher.consumer.close()
        await producer.close()
        return watcher.all
    }

    private func answerUntilCompleted(
        _ client: CommandClient, _ watcher: EventCollector, seconds: Double, send: @escaping @Sendable () async throws -> Void,
        whileRunning: (@Sendable () async throws -> Void)?
    ) async throws {
        let expected = Set(threads)
        let answered = AnsweredThreads()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await send() }
            if let whileRunning { group.addTask { try await whileRunning() } }
            group.addTask {
                // Answers are sent as interrupts arrive, in batches, from this task.
                while true {
                    let pending = answered.unanswered(in: watcher.all)
                    if !pending.isEmpty { try await client.send(pending.map { answer($0.thread, interruptID: $0.interrupt) }) }
                    if answered.count == expected.count { return }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            try await watcher.collect(until: { events in
                Set(events.filter { $0["type"] == "completed" }.compactMap { $0["thread_id"]?.stringValue }).isSuperset(of: expected)
            }, seconds: seconds)
            group.cancelAll()
        }
    }

    /// The side-effect lines: how often each `(thread, node)` ran, and in which processes.
    func effectLines() -> [(thread: String, node: String, pid: String)] {
        let text = (try? String(contentsOfFile: effects, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3 else { return nil }
            return (String(parts[0]), String(parts[1]), String(parts[2]))
        }
    }

    /// How many times `node` ran per thread.
    func runs(of node: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in effectLines() where line.node == node { counts[line.thread, default: 0] += 1 }
        return counts
    }
}

/// Threads whose first interrupt was answered (an interrupt event may be delivered twice).
final class AnsweredThreads: @unchecked Sendable {
    // @unchecked: used by one task at a time (the answering loop); `count` is read after.
    private var done = Set<String>()
    var count: Int { done.count }

    func unanswered(in events: [JSONValue]) -> [(thread: String, interrupt: String)] {
        var pending: [(String, String)] = []
        for event in events where event["type"] == "interrupt" {
            guard let thread = event["thread_id"]?.stringValue, let id = event["interrupt_id"]?.stringValue, done.insert(thread).inserted else { continue }
            pending.append((thread, id))
        }
        return pending
    }
}

extension SQL {
    static let appliedLedger = PostgresStatement("e2e.applied_ledger", sql: "SELECT count(*) FROM command_ledger WHERE status = 'applied'")
    static let editCheckpoints = PostgresStatement("e2e.edit_checkpoints", sql: "SELECT count(*) FROM checkpoints WHERE source = 'update'")
    static let notCompleted = PostgresStatement("e2e.not_completed", sql: "SELECT count(*) FROM threads WHERE status <> 'completed'")
}
