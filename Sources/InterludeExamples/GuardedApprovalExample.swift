import Foundation
import Interlude

/// The approval graph with allowed approvers: only user `alice` or a holder of the role
/// `finance` may answer its question; anyone else is refused `not_allowed`.
///
/// Same state, question and answer as ``ApprovalExample``: `START -> review -> send -> END`.
///
/// ```swift
/// let app = try GuardedApprovalExample.makeGraph()
/// _ = try await app.invoke(ApprovalState(recipient: "ana@example.com", subject: "Q3 report"), thread: "t1")
/// let done = try await app.invoke(
///     try Command(resume: ApprovalAnswer.approve), thread: "t1",
///     config: RunConfig(answeredBy: ReviewActor("bob", roles: ["finance"])))
/// // done.values.outcome == "sent"; the interrupt's resolvedBy is "bob"
/// ```
public enum GuardedApprovalExample {
    /// The name the graph is registered under.
    public static let name = "guarded-approval"
    /// The graph version stored in its checkpoints.
    public static let version = 1
    /// Who may answer: user `alice`, or anyone with the role `finance`.
    public static let approvers = Approvers(users: ["alice"], roles: ["finance"])

    /// Builds and compiles the graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ApprovalState> {
        try ReviewedSend.compile(name: name, version: version, checkpointer: checkpointer, clock: clock) { state in
            try await interrupt(
                ApprovalQuestion(prompt: "Send the \(state.subject) to \(state.recipient)?", recipient: state.recipient, draft: state.subject),
                approvers: approvers)
        }
    }
}

/// The approval graph with a quorum: two of `alice`, `bob` and `carol` must approve; the first
/// rejection ends the wait (`rejectionDecides`). Each answer before the second approval is a
/// vote recorded on the interrupt; the graph wakes with the deciding vote's answer.
public enum QuorumApprovalExample {
    /// The name the graph is registered under.
    public static let name = "quorum-approval"
    /// The graph version stored in its checkpoints.
    public static let version = 1
    /// Two approvals of three users; a rejection decides at once.
    public static let approvers = Approvers(users: ["alice", "bob", "carol"], required: 2, rejectionDecides: true)

    /// Builds and compiles the graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ApprovalState> {
        try ReviewedSend.compile(name: name, version: version, checkpointer: checkpointer, clock: clock) { state in
            try await interrupt(
                ApprovalQuestion(prompt: "Pay \(state.subject) to \(state.recipient)?", recipient: state.recipient, draft: state.subject),
                approvers: approvers)
        }
    }
}

/// The approval graph with an escalation chain, on a short clock for the end-to-end tests:
/// `alice` is asked; a reminder after 2 seconds; after 6 seconds the question goes to the role
/// `managers`; after 20 seconds nobody answered and the default (not approved) applies.
public enum EscalatingApprovalExample {
    /// The name the graph is registered under.
    public static let name = "escalating-approval"
    /// The graph version stored in its checkpoints.
    public static let version = 1
    /// Who is asked first.
    public static let approvers = Approvers(users: ["alice"])
    /// Remind after 2 s, hand to `managers` after 6 s.
    public static let escalation = Escalation(remindAfter: .seconds(2), escalateAfter: .seconds(6), escalateTo: Approvers(roles: ["managers"]))
    /// The answer taken at the deadline (20 s).
    public static let fallback = ApprovalAnswer(approved: false, comment: "no answer: the default applied")

    /// Builds and compiles the graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for deadlines and checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ApprovalState> {
        let fallback = try JSONValue(encoding: Self.fallback)
        return try ReviewedSend.compile(name: name, version: version, checkpointer: checkpointer, clock: clock) { state in
            try await interrupt(
                ApprovalQuestion(prompt: "Send the \(state.subject) to \(state.recipient)?", recipient: state.recipient, draft: state.subject),
                timeout: .seconds(20), onTimeout: .answer(fallback), approvers: approvers, escalation: escalation)
        }
    }
}

/// The graph the guarded, quorum and escalating examples share: START -> review -> send -> END,
/// where `review` asks with `ask` and a rejection ends the run without sending.
enum ReviewedSend {
    static func compile(
        name: String, version: Int, checkpointer: any Checkpointer, clock: any GraphClock,
        ask: @escaping @Sendable (ApprovalState) async throws -> ApprovalAnswer
    ) throws -> CompiledGraph<ApprovalState> {
        var graph = StateGraph<ApprovalState>()
        graph.addNode("review", destinations: ["send", END]) { state in
            let answer = try await ask(state)
            let update = Update<ApprovalState>.set(\.comment, answer.comment ?? "")
            if answer.approved { return .goto("send", update: update.append(\.log, "review: approved")) }
            return .goto(END, update: update.set(\.outcome, "rejected").append(\.log, "review: rejected"))
        }
        graph.addNode("send") { state in
            .update(Update.set(\.outcome, "sent").append(\.log, "send: sent to \(state.recipient)"))
        }
        graph.addEdge(START, "review")
        graph.addEdge("send", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
