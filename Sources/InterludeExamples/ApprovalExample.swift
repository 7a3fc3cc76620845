import Foundation
import Interlude

/// The state of ``ApprovalExample``: an email that is drafted, reviewed, then sent or not.
public struct ApprovalState: GraphState, Equatable {
    /// Who the email goes to (input).
    public var recipient = ""
    /// What the email is about (input).
    public var subject = ""
    /// The drafted body, written by the `draft` node.
    public var draft = ""
    /// `"sent"` or `"rejected"` once the run ends; empty before.
    public var outcome = ""
    /// The reviewer's comment, if any.
    public var comment = ""
    /// What happened, one line per node run.
    public var log: [String] = []

    /// The channels: last value for every field, `log` appends.
    public static let channels: [Channel<ApprovalState>] = [
        .value("recipient", \.recipient), .value("subject", \.subject), .value("draft", \.draft),
        .value("outcome", \.outcome), .value("comment", \.comment), .append("log", \.log),
    ]

    /// An empty state.
    public init() {}

    /// The input of a run: who the email goes to and what it is about.
    public init(recipient: String, subject: String) {
        self.recipient = recipient
        self.subject = subject
    }
}

/// What the `review` node asks: approve this email before it is sent?
public struct ApprovalQuestion: Codable, Sendable, Equatable {
    /// The question text.
    public var prompt: String
    /// The recipient.
    public var recipient: String
    /// The drafted email body.
    public var draft: String
}

/// The reviewer's decision on an ``ApprovalQuestion``.
public struct ApprovalAnswer: Codable, Sendable, Equatable {
    /// `true` sends the email; `false` ends the run without sending.
    public var approved: Bool
    /// An optional comment, stored in the state.
    public var comment: String?

    /// Creates an answer.
    public init(approved: Bool, comment: String? = nil) {
        self.approved = approved
        self.comment = comment
    }

    /// Approve and send.
    public static let approve = ApprovalAnswer(approved: true)

    /// Reject with a reason; nothing is sent.
    public static func reject(_ reason: String) -> ApprovalAnswer { ApprovalAnswer(approved: false, comment: reason) }
}

/// Approve or reject an action: draft an email, pause for approval, then send it or stop.
///
/// `START -> draft -> review -> send -> END`; `review` interrupts with an ``ApprovalQuestion``
/// and, on a rejection, goes straight to `END` so `send` never runs.
///
/// ```swift
/// let app = try ApprovalExample.makeGraph()
/// let paused = try await app.invoke(ApprovalState(recipient: "ana@example.com", subject: "Q3 report"), thread: "t1")
/// let question = try paused.interrupts[0].value(as: ApprovalQuestion.self)
/// let done = try await app.resume(thread: "t1", with: ApprovalAnswer.approve)
/// // done.values.outcome == "sent"
/// ```
public enum ApprovalExample {
    /// The name the graph is registered under.
    public static let name = "approval"
    /// The graph version stored in its checkpoints.
    public static let version = 1

    /// Builds and compiles the approval graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ApprovalState> {
        var graph = StateGraph<ApprovalState>()
        graph.addNode("draft") { state in
            let body = "Hello \(state.recipient),\n\nplease find the \(state.subject) attached.\n\nBest regards"
            return .update(Update.set(\.draft, body).append(\.log, "draft: wrote \(body.count) characters"))
        }
        graph.addNode("review", destinations: ["send", END]) { state in
            let answer: ApprovalAnswer = try await interrupt(
                ApprovalQuestion(prompt: "Send this email to \(state.recipient)?", recipient: state.recipient, draft: state.draft))
            let comment = answer.comment ?? ""
            if answer.approved {
                return .goto("send", update: Update.set(\.comment, comment).append(\.log, "review: approved"))
            }
            return .goto(
                END,
                update: Update.set(\.comment, comment).set(\.outcome, "rejected").append(\.log, "review: rejected (\(comment))"))
        }
        graph.addNode("send") { state in
            // A real graph would call a mail API here, after the approval and never before it.
            .update(Update.set(\.outcome, "sent").append(\.log, "send: sent to \(state.recipient)"))
        }
        graph.addEdge(START, "draft")
        graph.addEdge("draft", "review")
        graph.addEdge("send", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
