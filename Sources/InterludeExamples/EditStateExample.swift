import Foundation
import Interlude

/// The state of ``EditStateExample``: a post drafted by the graph, edited by a human, published.
public struct EditState: GraphState, Equatable {
    /// What the post is about (input).
    public var topic = ""
    /// The post text: drafted by `draft`, possibly replaced by the human.
    public var draft = ""
    /// `true` once `publish` ran.
    public var published = false
    /// `true` when the human changed the draft.
    public var edited = false
    /// What happened, one line per node run.
    public var log: [String] = []

    /// The channels: last value for every field, `log` appends.
    public static let channels: [Channel<EditState>] = [
        .value("topic", \.topic), .value("draft", \.draft), .value("published", \.published),
        .value("edited", \.edited), .append("log", \.log),
    ]

    /// An empty state.
    public init() {}

    /// The input of a run: the topic.
    public init(topic: String) { self.topic = topic }
}

/// What the `edit` node asks: here is the draft, change it if you like.
public struct EditQuestion: Codable, Sendable, Equatable {
    /// The question text.
    public var prompt: String
    /// The current draft.
    public var draft: String
}

/// The human's version of the draft.
public struct EditAnswer: Codable, Sendable, Equatable {
    /// The text to publish; `nil` keeps the draft as it is.
    public var draft: String?

    /// Creates an answer; `nil` keeps the draft.
    public init(draft: String?) { self.draft = draft }

    /// Keep the draft unchanged.
    public static let keep = EditAnswer(draft: nil)
}

/// Edit graph state: a human replaces a field (the draft) before the run continues.
///
/// `START -> draft -> edit -> publish -> END`. There are two ways to edit:
///
/// 1. Answer the interrupt of `edit` with an ``EditAnswer`` carrying the new text:
///    ```swift
///    _ = try await app.invoke(EditState(topic: "release 1.0"), thread: "t1")
///    let done = try await app.resume(thread: "t1", with: EditAnswer(draft: "Release 1.0 is out!"))
///    ```
/// 2. Write the state from outside while the run is paused, as if `edit` had written it,
///    then continue with no input: `edit` counts as done and `publish` runs next.
///    ```swift
///    _ = try await app.invoke(EditState(topic: "release 1.0"), thread: "t1")
///    try await app.updateState(thread: "t1", values: .set(\.draft, "Release 1.0 is out!"), asNode: "edit")
///    let done = try await app.invoke(thread: "t1")
///    ```
public enum EditStateExample {
    /// The name the graph is registered under.
    public static let name = "edit-state"
    /// The graph version stored in its checkpoints.
    public static let version = 1

    /// Builds and compiles the edit-state graph.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<EditState> {
        var graph = StateGraph<EditState>()
        graph.addNode("draft") { state in
            .update(Update.set(\.draft, "Some news about \(state.topic).").append(\.log, "draft: wrote a draft"))
        }
        graph.addNode("edit") { state in
            let answer: EditAnswer = try await interrupt(EditQuestion(prompt: "Edit the draft before it is published", draft: state.draft))
            guard let text = answer.draft, text != state.draft else {
                return .update(\.log, ["edit: kept the draft"])
            }
            return .update(Update.set(\.draft, text).set(\.edited, true).append(\.log, "edit: human replaced the draft"))
        }
        graph.addNode("publish") { state in
            .update(Update.set(\.published, true).append(\.log, "publish: published \(state.draft.count) characters"))
        }
        graph.addEdge(START, "draft")
        graph.addEdge("draft", "edit")
        graph.addEdge("edit", "publish")
        graph.addEdge("publish", END)
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }
}
