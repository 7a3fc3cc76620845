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

/// What the `review` node asks: may this tool call run?
public struct ToolReviewQuestion: Codable, Sendable, Equatable {
    /// The question text.
    public var prompt: String
    /// The proposed call.
    public var call: ToolCall
}

/// The reviewer's decision on a tool call.
public struct ToolReviewAnswer: Codable, Sendable, Equatable {
    /// What to do with the call.
    public enum Action: String, Codable, Sendable {
        /// Run the call as proposed.
        case approve
        /// Run the call with ``ToolReviewAnswer/arguments`` instead.
        case edit
        /// Do not run it; tell the model ``ToolReviewAnswer/feedback``.
        case reject
    }

    /// The decision.
    public var action: Action
    /// The replacement arguments, for `.edit`.
    public var arguments: JSONValue?
    /// Why it was rejected, for `.reject`.
    public var feedback: String?

    /// Creates an answer.
    public init(action: Action, arguments: JSONValue? = nil, feedback: String? = nil) {
        self.action = action
        self.arguments = arguments
        self.feedback = feedback
    }

    /// Run the call as proposed.
    public static let approve = ToolReviewAnswer(action: .approve)
    /// Run the call with other arguments.
    public static func edit(_ arguments: JSONValue) -> ToolReviewAnswer { ToolReviewAnswer(action: .edit, arguments: arguments) }
    /// Refuse the call and tell the model why.
    public static func reject(_ feedback: String) -> ToolReviewAnswer { ToolReviewAnswer(action: .reject, feedback: feedback) }
}

/// Review a tool call before it runs: a scripted model proposes a call in a `[Message]`
/// field; a human approves it, edits its arguments, or rejects it with feedback.
///
/// ``makeGraph(checkpointer:clock:)``: `START -> agent -> review -> tools -> agent -> END`,
/// where `review` interrupts with a ``ToolReviewQuestion``. An edit rewrites the assistant
/// message (same id, so the message reducer replaces it) and `tools` runs the edited call;
/// a rejection adds a tool message with the feedback and goes back to `agent`.
///
/// ``makeBreakpointGraph(checkpointer:clock:)`` does the same with a static breakpoint:
/// the run pauses before `tools`; edit the call with `updateState(asNode: "agent")` and
/// continue with `invoke(thread:)`.
///
/// The model is a deterministic script (``ScriptedModel``): no network.
public enum ToolReviewExample {
    /// The name the interrupt graph is registered under.
    public static let name = "tool-review"
    /// The name the breakpoint graph is registered under.
    public static let breakpointName = "tool-review-breakpoint"
    /// The graph version stored in its checkpoints.
    public static let version = 1

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
        graph.addNode("review", destinations: ["tools", "agent"]) { state in
            guard let last = state.messages.last, let call = state.pendingCall else { return .goto(END) }
            let answer: ToolReviewAnswer = try await interrupt(
                ToolReviewQuestion(prompt: "The model wants to call \(call.name). Run it?", call: call))
            switch answer.action {
            case .approve:
                return .goto("tools")
            case .edit:
                var edited = last
                edited.toolCalls[0].arguments = answer.arguments ?? call.arguments
                return .goto("tools", update: .append(\.messages, edited))
            case .reject:
                let feedback = answer.feedback ?? "no reason given"
                let reply = Message(
                    id: "tool-\(call.id)", role: .tool, content: "rejected by the reviewer: \(feedback)", toolCallID: call.id)
                return .goto("agent", update: .append(\.messages, reply))
            }
        }
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

    /// The `tools` node: runs every call of the last assistant message with ``LocalTools``.
    static func runTools(_ state: ToolReviewState) throws -> Command<ToolReviewState> {
        guard let last = state.messages.last, last.role == .assistant, !last.toolCalls.isEmpty else {
            throw GraphError(.invalidUpdate, "tools ran but the last message has no tool call")
        }
        var update = Update<ToolReviewState>()
        for call in last.toolCalls {
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
