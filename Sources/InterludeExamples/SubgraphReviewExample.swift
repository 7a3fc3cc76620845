import Foundation
import Interlude

/// The state of ``SubgraphReviewExample``, shared by the parent graph and its subgraph.
public struct ArticleState: GraphState, Equatable {
    /// What the article is about (the run's input).
    public var topic = ""
    /// The draft, as written and possibly edited by the reviewer.
    public var draft = ""
    /// Whether the reviewer approved the draft.
    public var approved = false
    /// Whether `publish` published it.
    public var published = false
    /// Which nodes ran, parent and subgraph alike.
    public var log: [String] = []

    /// The channels: last value for every field, an append list for `log`.
    public static let channels: [Channel<ArticleState>] = [
        .value("topic", \.topic), .value("draft", \.draft), .value("approved", \.approved),
        .value("published", \.published), .append("log", \.log),
    ]

    /// An empty state.
    public init() {}

    /// A state with a topic, the usual input.
    public init(topic: String) { self.topic = topic }
}

/// The question the subgraph's reviewer is asked.
public struct DraftQuestion: Codable, Sendable, Equatable {
    /// What the reviewer is asked to do.
    public var prompt: String
    /// The draft to review.
    public var draft: String

    /// Creates a question about `draft`.
    public init(draft: String) {
        self.prompt = "Publish this draft? Keep it, edit it, or answer {\"approved\": false} to stop."
        self.draft = draft
    }
}

/// The reviewer's answer: publish or not, and optionally a replacement text.
///
/// Both fields are optional in JSON, so the answers a generic review app gives a
/// `{prompt, draft}` question work: `{}` keeps the draft and approves it, `{"draft": "..."}`
/// approves an edited text, `{"approved": false}` stops it.
public struct DraftVerdict: Codable, Sendable, Equatable {
    /// `true` to publish. Default (absent in JSON): `true`.
    public var approved: Bool
    /// A corrected draft, if the reviewer edited it.
    public var draft: String?

    /// Creates a verdict.
    public init(approved: Bool = true, draft: String? = nil) {
        self.approved = approved
        self.draft = draft
    }

    /// Decodes a verdict; a missing `approved` means approved.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        approved = try container.decodeIfPresent(Bool.self, forKey: .approved) ?? true
        draft = try container.decodeIfPresent(String.self, forKey: .draft)
    }
}

/// A subgraph as a node: the parent plans, hands the article to a reusable review subgraph
/// (write a draft, ask a human), then publishes if approved. The human's question is asked
/// inside the subgraph; it reaches the parent with the same id and the namespace
/// `review:<task id>`, and answering the parent resumes the subgraph where it stopped.
public enum SubgraphReviewExample {
    /// The name the graph is registered under.
    public static let name = "subgraph-review"
    /// The graph version stored in its checkpoints.
    public static let version = 1

    /// The review subgraph: `write` drafts, `review` asks a human for a ``DraftVerdict``.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeReviewSubgraph() throws -> CompiledGraph<ArticleState> {
        var graph = StateGraph<ArticleState>()
        graph.addNode("write") { state in
            .update(Update.set(\.draft, "A short piece on \(state.topic).").append(\.log, "write"))
        }
        graph.addNode("review") { state in
            let verdict: DraftVerdict = try await interrupt(DraftQuestion(draft: state.draft))
            return .update(Update.set(\.draft, verdict.draft ?? state.draft).set(\.approved, verdict.approved).append(\.log, "review"))
        }
        graph.addEdge(START, "write")
        graph.addEdge("write", "review")
        return try graph.compile(name: "\(name).review", version: version)
    }

    /// Builds and compiles the parent graph: `plan`, the `review` subgraph, `publish`.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go (the subgraph's too). Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ArticleState> {
        var graph = StateGraph<ArticleState>()
        graph.addNode("plan") { _ in .update(.append(\.log, "plan")) }
        graph.addSubgraph("review", try makeReviewSubgraph())
        graph.addNode("publish") { state in
            .update(Update.set(\.published, state.approved).append(\.log, "publish"))
        }
        graph.addEdge(START, "plan")
        graph.addEdge("plan", "review")
        graph.addEdge("review", "publish")
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
