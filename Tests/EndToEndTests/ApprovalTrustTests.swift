import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludePostgres
import InterludeWorker
import InterludeTestSupport
import Testing

/// Who may answer and signed answers through a real worker process: the worker requires
/// signatures (`INTERLUDE_REQUIRE_SIGNED_RESUMES`, `INTERLUDE_RESUME_KEYS`) and hosts the
/// `guarded-approval` example (approvers: user alice, role finance).
@Suite("Approvers and signed answers end to end", .tags(.e2e), .serialized, .timeLimit(.minutes(5)))
struct ApprovalTrustTests {
    @Test("an unsigned resume, a signed answer from an unlisted actor and a replayed signed answer are refused with their reasons; the signed approver's answer applies once")
    func refusals() async throws {
        let signer = try ResumeSigner(privateKey: Data(repeating: 7, count: 32), keyID: "review-1")
        try await withSystem { system in
            try system.startWorkers(1, extra: [
                "INTERLUDE_REQUIRE_SIGNED_RESUMES": "true",
                "INTERLUDE_RESUME_KEYS": #"{"review-1": "\#(signer.publicKey.base64EncodedString())"}"#,
            ])
            let producer = try system.producer()
            let client = CommandClient(producer: producer, topics: system.topics)
            let watcher = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.reviews, system.topics.events])
            let review = try await pausedThread("g1", graph: "guarded-approval", client: client, watcher: watcher)
            #expect(review["approvers"] == ["users": ["alice"], "roles": ["finance"]], "the interrupt event says who may answer")
            let interrupt = try #require(review["interrupt_id"]?.stringValue)

            func answer(_ id: String, _ actor: ReviewActor?) -> CommandMessage {
                CommandMessage(id: id, threadID: "g1", body: .resume(value: nil, values: [interrupt: ["approved": true]], checkpointID: nil), actor: actor)
            }
            let now = Int64(Date().timeIntervalSince1970)
            try await client.send(answer("unsigned", ReviewActor("alice")))
            try await client.send(try signer.sign(answer("mallory", ReviewActor("mallory", roles: ["sales"])), issuedAt: now))
            let good = try signer.sign(answer("alice", ReviewActor("alice", roles: ["finance"])), issuedAt: now)
            try await client.send(good)
            var replay = good
            replay.id = "replay"
            try await client.send(replay)
            try await watcher.collect(until: { events in
                events.filter { $0["type"] == "rejected" }.count >= 3 && events.contains { $0["type"] == "completed" && $0["thread_id"] == "g1" }
            }, seconds: 90)

            let reasons = rejections(watcher.all, "reason")
            let messages = rejections(watcher.all, "message")
            #expect(reasons == ["unsigned": "signature_required", "mallory": "not_allowed", "replay": "signature_replayed"], "\(system.workerLogs())")
            #expect(messages["mallory"]?.contains("users alice; roles finance") == true, "\(messages)")
            #expect(messages["replay"]?.contains("'alice'") == true, "\(messages)")

            let completed = try #require(watcher.all.first { $0["type"] == "completed" && $0["thread_id"] == "g1" })
            #expect(completed["values"]?["outcome"] == "sent")
            let steps = watcher.all.filter { $0["type"] == "step" && $0["command_id"] == "alice" }
            #expect(!steps.isEmpty && steps.allSatisfy { $0["actor"] == ["id": "alice", "roles": ["finance"]] })
            // Only the run and the signed approver's answer were applied.
            let thread = try #require(try await system.checkpointer.thread("g1"))
            #expect(thread.status == .completed && thread.version == 2)
            let record = try #require(try await system.checkpointer.interrupts(thread: "g1").first)
            #expect(record.status == .resolved && record.resolvedBy == "alice")
            let head = try #require(try await system.checkpointer.checkpoint(thread: "g1", id: nil))
            #expect(head.checkpoint.metadata["actor"] == ["id": "alice", "roles": ["finance"]])
            await producer.close()
            await watcher.consumer.close()
        }
    }

    @Test("a 2-of-3 quorum through a real worker: the first approval is a recorded vote, the same approver again is refused already_voted, an unlisted actor not_allowed, the second approver wakes the run; the votes are in the history")
    func quorum() async throws {
        try await withSystem { system in
            try system.startWorkers(1)
            let producer = try system.producer()
            let client = CommandClient(producer: producer, topics: system.topics)
            let watcher = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.reviews, system.topics.events])
            let review = try await pausedThread("q1", graph: "quorum-approval", client: client, watcher: watcher)
            #expect(review["approvers"]?["required"] == 2 && review["approvers"]?["rejection_decides"] == true, "\(review)")
            let interrupt = try #require(review["interrupt_id"]?.stringValue)
            func vote(_ id: String, _ actor: String, _ approved: Bool) -> CommandMessage {
                CommandMessage(id: id, threadID: "q1", body: .resume(value: nil, values: [interrupt: ["approved": .bool(approved)]], checkpointID: nil), actor: ReviewActor(actor))
            }
            try await client.send(vote("v-alice", "alice", true))
            try await watcher.collect(until: { $0.contains { $0["type"] == "step" && $0["command_id"] == "v-alice" } }, seconds: 60)
            let first = try #require(watcher.all.first { $0["type"] == "step" && $0["command_id"] == "v-alice" })
            #expect(first["status"] == "interrupted" && first["actor"]?["id"] == "alice", "the first vote leaves the run paused: \(first)")
            try await client.send(vote("v-alice-again", "alice", true))
            try await client.send(vote("v-mallory", "mallory", true))
            try await client.send(vote("v-bob", "bob", true))
            try await watcher.collect(until: { events in
                events.filter { $0["type"] == "rejected" }.count >= 2 && events.contains { $0["type"] == "completed" && $0["thread_id"] == "q1" }
            }, seconds: 90)
            let reasons = rejections(watcher.all, "reason")
            #expect(reasons == ["v-alice-again": "already_voted", "v-mallory": "not_allowed"], "\(system.workerLogs())")
            let completed = try #require(watcher.all.first { $0["type"] == "completed" && $0["thread_id"] == "q1" })
            #expect(completed["values"]?["outcome"] == "sent")
            let record = try #require(try await system.checkpointer.interrupts(thread: "q1").first)
            #expect(record.status == .resolved && record.resolvedBy == "bob")
            // The votes, read back from PostgreSQL through the graph's stateHistory.
            let graph = try QuorumApprovalExample.makeGraph(checkpointer: system.checkpointer)
            let votes = try await graph.stateHistory(thread: "q1").flatMap { $0.tasks.flatMap(\.interrupts) }.map(\.votes).first { !$0.isEmpty }
            #expect(votes?.map(\.actor.id) == ["alice", "bob"], "\(String(describing: votes))")
            // The run, the first vote and the deciding vote committed; the refusals did not.
            #expect(try await system.checkpointer.thread("q1")?.version == 3)
            await producer.close()
            await watcher.consumer.close()
        }
    }

    @Test("remind -> escalate -> default through a real worker's deadline sweep: the interrupt event is published again as a reminder, then with the managers as approvers (alice is refused from then on), then the default answer ends the run")
    func escalation() async throws {
        try await withSystem { system in
            try system.startWorkers(1)
            let producer = try system.producer()
            let client = CommandClient(producer: producer, topics: system.topics)
            let watcher = try EventCollector(bootstrap: system.cluster.bootstrapServers, topics: [system.topics.reviews, system.topics.events])
            _ = try await pausedThread("e1", graph: "escalating-approval", client: client, watcher: watcher)
            // Remind at 2 s, escalate at 6 s, the default at 20 s: closer together than the
            // sweep's 30 s lease on a due deadline, which a step that moves the deadline on
            // releases (otherwise the remind's lease would hold the escalation back until the
            // default was due too, and the default would win).
            do {
                try await watcher.collect(until: { events in
                    events.contains { $0["type"] == "interrupt" && $0["escalation"] == "escalate" }
                }, seconds: 100)
            } catch {
                Issue.record("no escalation: \(watcher.all)\n\(system.workerLogs())")
                throw error
            }
            let reviews = watcher.all.filter { $0["type"] == "interrupt" && $0["thread_id"] == "e1" }
            #expect(reviews.map { $0["escalation"]?.stringValue ?? "-" } == ["-", "remind", "escalate"], "\(reviews)")
            let interrupt = try #require(reviews.first?["interrupt_id"]?.stringValue)
            #expect(Set(reviews.compactMap { $0["id"]?.stringValue }) == ["review-\(interrupt)", "review-\(interrupt)-remind", "review-\(interrupt)-escalate"])
            #expect(reviews[1]["approvers"] == ["users": ["alice"], "roles": []])
            #expect(reviews[2]["approvers"] == ["users": [], "roles": ["managers"]])
            try await client.send(CommandMessage(id: "late-alice", threadID: "e1", body: .resume(value: nil, values: [interrupt: ["approved": true]], checkpointID: nil), actor: ReviewActor("alice")))
            try await watcher.collect(until: { events in
                events.contains { $0["type"] == "completed" && $0["thread_id"] == "e1" } && events.contains { $0["type"] == "rejected" }
            }, seconds: 150)
            let rejected = try #require(watcher.all.first { $0["type"] == "rejected" })
            #expect(rejected["command_id"] == "late-alice" && rejected["reason"] == "not_allowed", "\(rejected)")
            let completed = try #require(watcher.all.first { $0["type"] == "completed" && $0["thread_id"] == "e1" })
            #expect(completed["values"]?["outcome"] == "rejected")
            #expect(completed["values"]?["comment"] == "no answer: the default applied")
            #expect(try await system.checkpointer.interrupts(thread: "e1").first?.status == .expired)
            // Each sweep step has a step event of its own (they once shared the checkpoint's id
            // and the outbox kept only the reminder's); the default's names the closed question.
            let sweepSteps = watcher.all.filter { $0["type"] == "step" && $0["thread_id"] == "e1" && $0["command_id"] == nil }
            let stages = Set(sweepSteps.compactMap { $0["id"]?.stringValue?.split(separator: "-").dropLast().last.map(String.init) })
            #expect(stages.isSuperset(of: ["remind", "escalate", "deadline"]), "\(sweepSteps)")
            #expect(sweepSteps.contains { $0["resolved_interrupts"] == [["interrupt_id": .string(interrupt), "status": "expired", "resolved_by": "timeout"]] }, "\(sweepSteps)")
            await producer.close()
            await watcher.consumer.close()
        }
    }
}

/// Sends a run of `graph` on `thread` and waits for its first interrupt event.
private func pausedThread(_ thread: String, graph: String, client: CommandClient, watcher: EventCollector) async throws -> JSONValue {
    try await client.send(CommandMessage(id: "run-\(thread)", threadID: thread, body: .run(graph: graph, input: ["recipient": "acme", "subject": "s"], config: nil, ifBusy: .reject)))
    try await watcher.collect(until: { $0.contains { $0["type"] == "interrupt" && $0["thread_id"] == .string(thread) } }, seconds: 90)
    return try #require(watcher.all.first { $0["type"] == "interrupt" && $0["thread_id"] == .string(thread) })
}

/// A member (`reason`, `message`) of every `rejected` event, by command id.
private func rejections(_ events: [JSONValue], _ member: String) -> [String: String] {
    var found: [String: String] = [:]
    for event in events where event["type"] == "rejected" {
        found[event["command_id"]?.stringValue ?? ""] = event[member]?.stringValue
    }
    return found
}
