import Foundation
import Interlude

/// The state of ``ToolReviewExample``: a chat whose tool calls a human reviews.
public struct ToolReviewState: GraphState, Equatable {
    /// The conversation, merged by message id.
    public var messages: [Message] = []
    /// Every tool call the `tools` node executed, as one line each (``LocalTools/describe(_:)``).
    public var executed: [String] = []

    /// The channels: `messages` merges by id, `executed` appends.
    public static let channels: [Channel<ToolReviewState>] = [.messages("messages", \.messages), .append("executed", \.executed)]

    /// An empty state.
    public init() {}

    /// The input of a run: one user message.
    public init(question: String) {
        messages = [Message(id: "user-0", role: .user, content: question)]
    }

    /// The last assistant message's first tool call, if it has one.
    public var pendingCall: ToolCall? {
        guard let last = messages.last, last.role == .assistant else { return nil }
        return last.toolCalls.first
    }
}

/// Review a tool call before it runs: a scripted model proposes a call in a `[Message]`
/// field; a human approves it, edits its arguments, rejects it with feedback, or answers in
/// the tool's place, through ``ToolCallReview`` and the policies in ``policies``.
///
/// ``makeGraph(checkpointer:clock:)``: `START -> agent -> review -> tools -> agent -> END`,
/// where `review` interrupts with a ``ReviewRequest`` (answer with a ``ReviewResponse``, or
/// Agent Inbox `HumanResponse`s). An edit rewrites the assistant message (same id, so the
/// message reducer replaces it) and `tools` runs the edited call; a rejection or a response
/// adds a tool message and goes back to `agent`. An answer outside the policy (a decision not
/// allowed, arguments that break the tool's schema) is refused before any node runs.
///
/// ``makeBreakpointGraph(checkpointer:clock:)`` does the same with a static breakpoint:
/// the run pauses before `tools`; edit the call with `updateState(asNode: "agent")` and
/// continue with `invoke(thread:)`.
///
/// The model is a deterministic script (``ScriptedModel``): no network.
public enum ToolReviewExample {
    /// The review policies: every decision for `weather`; approve, edit or reject for
    /// `calculator` (a reviewer may not make up its result). Edited arguments must satisfy the
    /// tool's argument schema (``LocalTools/argumentSchemas``).
    public static let policies: [String: ToolReviewPolicy] = [
        "weather": .all(description: "The model wants to look up the weather. Run it?", argumentsSchema: LocalTools.argumentSchemas["weather"]),
        "calculator": ToolReviewPolicy(
            allowedDecisions: [.approve, .edit, .reject], description: "The model wants to calculate. Run it?",
            argumentsSchema: LocalTools.argumentSchemas["calculator"]),
    ]

    /// The review node's component: one batched interrupt per assistant message.
    public static let review = ToolCallReview(messages: \ToolReviewState.messages, policies: policies)

    /// The name the interrupt graph is registered under.
    public static let name = "tool-review"
    /// The name the breakpoint graph is registered under.
    public static let breakpointName = "tool-review-breakpoint"
    /// The graph version stored in its checkpoints. Version 2 asks with a ``ReviewRequest``
    /// (version 1 asked `{prompt, call}` and took `{action, arguments, feedback}`).
    public static let version = 2

    /// Builds and compiles the graph that asks inside a `review` node.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ToolReviewState> {
        var graph = StateGraph<ToolReviewState>()
        graph.addNode("agent") { state in .update(\.messages, [ScriptedModel.respond(to: state.messages)]) }
        graph.addNode("review", destinations: ["tools", "agent"], context: review.node(tools: "tools", model: "agent"))
        graph.addNode("tools") { state in try runTools(state) }
        graph.addEdge(START, "agent")
        graph.addConditionalEdges("agent", destinations: ["review", END]) { state in state.pendingCall == nil ? END : "review" }
        graph.addEdge("tools", "agent")
        return try graph.compile(name: name, version: version, checkpointer: checkpointer, clock: clock)
    }

    /// Builds and compiles the variant that pauses before `tools` with a static breakpoint
    /// (`interruptBefore: ["tools"]`) instead of asking in a node.
    /// - Parameters:
    ///   - checkpointer: Where checkpoints go. Default: a new ``InMemoryCheckpointer``.
    ///   - clock: Time source for checkpoint timestamps. Default: the system clock.
    /// - Throws: `GraphError` if the graph does not compile (a bug in this example).
    public static func makeBreakpointGraph(
        checkpointer: any Checkpointer = InMemoryCheckpointer(), clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<ToolReviewState> {
        var graph = StateGraph<ToolReviewState>()
        graph.addNode("agent") { state in .update(\.messages, [ScriptedModel.respond(to: state.messages)]) }
        graph.addNode("tools") { state in try runTools(state) }
        graph.addEdge(START, "agent")
        graph.addConditionalEdges("agent", destinations: ["tools", END]) { state in state.pendingCall == nil ? END : "tools" }
        graph.addEdge("tools", "agent")
        return try graph.compile(
            name: breakpointName, version: version, checkpointer: checkpointer, interruptBefore: ["tools"], clock: clock)
    }

    /// The `tools` node: runs the calls of the last assistant message that no tool message
    /// answers yet (a review may have rejected or answered some) with ``LocalTools``.
    static func runTools(_ state: ToolReviewState) throws -> Command<ToolReviewState> {
        let calls = ToolCallReview<ToolReviewState>.callsToRun(in: state.messages)
        guard !calls.isEmpty else {
            throw GraphError(.invalidUpdate, "tools ran but the last message has no tool call left to run")
        }
        var update = Update<ToolReviewState>()
        for call in calls {
            let output = LocalTools.run(call)
            update = update.append(\.messages, Message(id: "tool-\(call.id)", role: .tool, content: output, toolCallID: call.id))
                .append(\.executed, LocalTools.describe(call))
        }
        return .update(update)
    }
}

/// A deterministic stand-in for a chat model: proposes a weather or calculator call for a
/// user question, and turns a tool result into a final answer.
public enum ScriptedModel {
    /// The model's next message for a conversation.
    ///
    /// - A user message that mentions a city of ``LocalTools/weatherTable`` asks for `weather`.
    /// - A user message with `a <op> b` (numbers, `+ - * /`) asks for `calculator`.
    /// - A tool message becomes a final answer quoting it (or acknowledging a rejection).
    /// - Anything else gets a plain answer with no tool call.
    public static func respond(to messages: [Message]) -> Message {
        let id = "ai-\(messages.count)"
        guard let last = messages.last else { return Message(id: id, role: .assistant, content: "Ask me something.") }
        if last.role == .tool {
            if last.content.hasPrefix("rejected by the reviewer") {
                return Message(id: id, role: .assistant, content: "Understood, I did not run the tool (\(last.content)).")
            }
            return Message(id: id, role: .assistant, content: "Here is what I found: \(last.content)")
        }
        let text = last.content.lowercased()
        let callID = "call-\(messages.count)"
        let words = text.split(whereSeparator: { !$0.isLetter && !$0.isNumber && !"+-*/.".contains($0) }).map(String.init)
        if let city = words.first(where: { LocalTools.weatherTable[$0] != nil }) {
            let call = ToolCall(id: callID, name: "weather", arguments: ["city": .string(city.capitalized)])
            return Message(id: id, role: .assistant, content: "Let me check the weather.", toolCalls: [call])
        }
        for (i, word) in words.enumerated() where i > 0 && i + 1 < words.count && ["+", "-", "*", "/"].contains(word) {
            if let a = Double(words[i - 1]), let b = Double(words[i + 1]) {
                let call = ToolCall(id: callID, name: "calculator", arguments: ["a": .number(a), "op": .string(word), "b": .number(b)])
                return Message(id: id, role: .assistant, content: "Let me calculate that.", toolCalls: [call])
            }
        }
        return Message(id: id, role: .assistant, content: "I can look up the weather or do arithmetic (try \"6 * 7\").")
    }
}
