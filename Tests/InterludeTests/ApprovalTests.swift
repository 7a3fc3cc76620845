import Foundation
import Interlude
import InterludeExamples
import Testing

/// Who answered and who may answer, in process: the engine checks approvers before the graph
/// wakes and records the actor with the resolution.
@Suite("Approvers and actors", .tags(.engine))
struct ApprovalTests {
    let input = ApprovalState(recipient: "ana@example.com", subject: "Q3")

    func paused(_ thread: String) async throws -> (CompiledGraph<ApprovalState>, InMemoryCheckpointer, Interrupt) {
        let store = InMemoryCheckpointer()
        let app = try GuardedApprovalExample.makeGraph(checkpointer: store)
        let result = try await app.invoke(input, thread: thread)
        let interrupt = try #require(result.interrupts.first)
        return (app, store, interrupt)
    }

    func resume(_ app: CompiledGraph<ApprovalState>, _ thread: String, as actor: ReviewActor?) async throws -> RunResult<ApprovalState> {
        try await app.invoke(try Command(resume: ApprovalAnswer.approve), thread: thread, config: RunConfig(answeredBy: actor))
    }

    @Test("the interrupt names its approvers, in its JSON and in getState")
    func approversShown() async throws {
        let (app, _, interrupt) = try await paused("t")
        #expect(interrupt.approvers == GuardedApprovalExample.approvers)
        #expect(interrupt.json["approvers"] == ["users": ["alice"], "roles": ["finance"]])
        let state = try #require(try await app.getState(thread: "t"))
        #expect(state.interrupts.first?.approvers == GuardedApprovalExample.approvers)
    }

    @Test("an answer from an unlisted actor, or with no actor, is refused not_allowed and nothing is applied", arguments: [
        ReviewActor("mallory", roles: ["sales"]), nil,
    ])
    func refused(actor: ReviewActor?) async throws {
        let (app, store, interrupt) = try await paused("t")
        let before = try await store.thread("t")
        let error = await #expect(throws: GraphError.self) { try await resume(app, "t", as: actor) }
        #expect(error?.code == .notAllowed)
        #expect(error?.message.contains("users alice; roles finance") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(actor.map { "'\($0.id)'" } ?? "no actor") == true, "\(error?.message ?? "")")
        let after = try await store.thread("t")
        #expect(after?.version == before?.version)
        #expect(after?.status == .interrupted)
        let records = try await store.interrupts(thread: "t")
        #expect(records.first { $0.id == interrupt.id }?.status == .pending)
    }

    @Test("a listed user or a holder of a listed role may answer; the actor is the resolution's resolvedBy and the checkpoint's metadata", arguments: [
        ReviewActor("alice"), ReviewActor("bob", roles: ["finance", "ops"]),
    ])
    func allowed(actor: ReviewActor) async throws {
        let (app, store, interrupt) = try await paused("t")
        let done = try await resume(app, "t", as: actor)
        #expect(done.status == .completed)
        #expect(done.values.outcome == "sent")
        let record = try #require(try await store.interrupts(thread: "t").first { $0.id == interrupt.id })
        #expect(record.status == .resolved)
        #expect(record.resolvedBy == actor.id)
        let head = try #require(try await app.getState(thread: "t"))
        #expect(head.metadata["actor"] == actor.json)
        let history = try await app.stateHistory(thread: "t")
        let answered = history.filter { $0.metadata["actor"] != nil }
        #expect(!answered.isEmpty)
        #expect(answered.allSatisfy { ReviewActor(json: $0.metadata["actor"]!) == actor })
        // The checkpoints before the answer carry no actor.
        #expect(history.contains { $0.metadata["actor"] == nil })
    }

    @Test("without approvers anyone may answer, and an actor is still recorded")
    func noApprovers() async throws {
        let store = InMemoryCheckpointer()
        let app = try ApprovalExample.makeGraph(checkpointer: store)
        _ = try await app.invoke(input, thread: "t")
        let done = try await app.invoke(try Command(resume: ApprovalAnswer.approve), thread: "t", config: RunConfig(answeredBy: ReviewActor("zoe")))
        #expect(done.status == .completed)
        #expect(try await store.interrupts(thread: "t").first?.resolvedBy == "zoe")
    }

    @Test("actors and approvers read back from their JSON; bad JSON is refused")
    func json() {
        let actor = ReviewActor("alice", roles: ["finance"])
        #expect(ReviewActor(json: actor.json) == actor)
        #expect(ReviewActor(json: ["id": "bob"]) == ReviewActor("bob"))
        #expect(ReviewActor(json: ["id": ""]) == nil)
        #expect(ReviewActor(json: ["id": "x", "roles": [1]]) == nil)
        let approvers = Approvers(users: ["a"], roles: ["r"])
        #expect(Approvers(json: approvers.json) == approvers)
        #expect(Approvers(json: "nope") == nil)
        #expect(!Approvers().allows(actor))
        #expect(Approvers(roles: ["finance"]).allows(actor))
        #expect(!Approvers(roles: ["finance"]).allows(nil))
    }

    // MARK: Quorum

    func quorum(_ thread: String) async throws -> (CompiledGraph<ApprovalState>, InMemoryCheckpointer) {
        let store = InMemoryCheckpointer()
        let app = try QuorumApprovalExample.makeGraph(checkpointer: store)
        _ = try await app.invoke(input, thread: thread)
        return (app, store)
    }

    func vote(_ app: CompiledGraph<ApprovalState>, _ actor: String?, _ answer: ApprovalAnswer) async throws -> RunResult<ApprovalState> {
        try await app.invoke(try Command(resume: answer), thread: "q", config: RunConfig(answeredBy: actor.map { ReviewActor($0) }))
    }

    @Test("2 of 3: the first approval is a vote and the graph stays paused; a second vote by the same approver is refused; the second approver wakes it")
    func twoOfThree() async throws {
        let (app, store) = try await quorum("q")
        let first = try await vote(app, "alice", .approve)
        #expect(first.status == .interrupted)
        #expect(first.values.outcome == "")
        var state = try #require(try await app.getState(thread: "q"))
        #expect(state.interrupts.first?.votes.map(\.actor.id) == ["alice"])
        #expect(try await store.interrupts(thread: "q").first?.status == .pending)

        let again = await #expect(throws: GraphError.self) { try await vote(app, "alice", .approve) }
        #expect(again?.code == .alreadyVoted)
        #expect(again?.message.contains("1 of 2 votes") == true, "\(again?.message ?? "")")
        let stranger = await #expect(throws: GraphError.self) { try await vote(app, "mallory", .approve) }
        #expect(stranger?.code == .notAllowed)
        let anonymous = await #expect(throws: GraphError.self) { try await vote(app, nil, .approve) }
        #expect(anonymous?.code == .notAllowed)
        state = try #require(try await app.getState(thread: "q"))
        #expect(state.interrupts.first?.votes.count == 1, "a refused vote was counted")

        let done = try await vote(app, "bob", ApprovalAnswer(approved: true, comment: "ok"))
        #expect(done.status == .completed)
        #expect(done.values.outcome == "sent")
        #expect(done.values.comment == "ok")
        let record = try #require(try await store.interrupts(thread: "q").first)
        #expect(record.status == .resolved && record.resolvedBy == "bob")
        // The votes show in the history: the task of the checkpoint that waited keeps both.
        let history = try await app.stateHistory(thread: "q")
        let waited = history.flatMap { $0.tasks.flatMap(\.interrupts) }.map(\.votes).first { !$0.isEmpty }
        #expect(waited?.map(\.actor.id) == ["alice", "bob"])
        #expect(waited?.last?.value == ["approved": true, "comment": "ok"])
    }

    @Test("with rejectionDecides the first rejection wakes the graph with the rejection")
    func rejectionDecides() async throws {
        let (app, store) = try await quorum("q")
        _ = try await vote(app, "alice", .approve)
        let done = try await vote(app, "carol", .reject("too much"))
        #expect(done.status == .completed)
        #expect(done.values.outcome == "rejected")
        #expect(try await store.interrupts(thread: "q").first?.resolvedBy == "carol")
        #expect(Approvers.isRejection(false) && Approvers.isRejection(["decision": "reject"]) && !Approvers.isRejection(["approved": true]))
    }

    @Test("without rejectionDecides a rejection is a recorded vote that does not count toward the quorum")
    func rejectionRecorded() async throws {
        var graph = StateGraph<Single>()
        graph.addNode("ask") { _ in
            let ok: Bool = try await interrupt("ok?", approvers: Approvers(roles: ["ops"], required: 2))
            return .update(\.name, ok ? "yes" : "no")
        }
        graph.addEdge(START, "ask")
        let app = try graph.compile(checkpointer: InMemoryCheckpointer())
        _ = try await app.invoke(Single(), thread: "r")
        func answer(_ who: String, _ ok: Bool) async throws -> RunResult<Single> {
            try await app.invoke(try Command(resume: ok), thread: "r", config: RunConfig(answeredBy: ReviewActor(who, roles: ["ops"])))
        }
        #expect(try await answer("a", false).status == .interrupted)
        #expect(try await answer("b", true).status == .interrupted)
        let done = try await answer("c", true)
        #expect(done.status == .completed && done.values.name == "yes")
    }
}
