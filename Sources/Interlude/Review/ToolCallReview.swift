import Foundation

/// How the calls of one tool are reviewed: which decisions are allowed, what the reviewer is
/// told, the argument schema an edit must satisfy, and when a call needs review at all.
public struct ToolReviewPolicy: Sendable {
    /// The decisions a reviewer may take, in the order a UI should offer them.
    /// Default: approve, edit, reject (as LangChain's middleware).
    public var allowedDecisions: [ReviewDecisionType]
    /// What the reviewer is told. Default: `nil`, which describes the call by its name and
    /// arguments.
    public var description: String?
    /// The tool's argument schema; edited arguments must satisfy it. Default: none.
    public var argumentsSchema: ArgumentsSchema?
    /// Decides per call whether it needs review; a call it returns `false` for runs without
    /// review. It runs again each time the node re-runs, so it must be deterministic.
    /// Default: `nil`, every call of the tool is reviewed.
    public var when: (@Sendable (ToolCall) -> Bool)?

    /// Creates a policy.
    /// - Parameters:
    ///   - allowedDecisions: Default: approve, edit, reject.
    ///   - description: Default: the call's name and arguments.
    ///   - argumentsSchema: Default: none.
    ///   - when: Default: review every call.
    public init(
        allowedDecisions: [ReviewDecisionType] = [.approve, .edit, .reject], description: String? = nil,
        argumentsSchema: ArgumentsSchema? = nil, when: (@Sendable (ToolCall) -> Bool)? = nil
    ) {
        self.allowedDecisions = allowedDecisions
        self.description = description
        self.argumentsSchema = argumentsSchema
        self.when = when
    }

    /// Every decision allowed, with an optional argument schema.
    public static func all(description: String? = nil, argumentsSchema: ArgumentsSchema? = nil) -> ToolReviewPolicy {
        ToolReviewPolicy(allowedDecisions: ReviewDecisionType.allCases, description: description, argumentsSchema: argumentsSchema)
    }
}

/// What a review did to the last assistant message: the messages to write and the calls left
/// to run.
public struct ToolReviewOutcome: Sendable, Equatable {
    /// Messages to write to the message list: the assistant message with edited arguments
    /// (same id, so the message reducer replaces it) when an edit was made, then one tool
    /// message per rejected or answered call.
    public var messages: [Message]
    /// The decision on each reviewed call, by call id.
    public var decisions: [String: ReviewDecision]
    /// The calls the tools node should run: approved, edited (with the new arguments) and
    /// those that needed no review, in the message's order.
    public var callsToRun: [ToolCall]
}

/// Human review of the tool calls an assistant message requests, by a policy per tool name
/// (LangChain's human-in-the-loop middleware as a graph node).
///
/// Tools without a policy (or whose policy's `when` says no) run without review. In
/// ``Mode/batched`` mode the node asks once for all reviewed calls of the last assistant
/// message (a ``ReviewRequest`` with one action request per call; the answer has one decision
/// per call, in order); in ``Mode/perCall`` mode it asks once per call, in order.
///
/// The answer is checked before any node runs: a decision the policy does not allow, the wrong
/// number of decisions, an unknown decision type, or edited arguments that break the tool's
/// schema make the resume fail with `GraphError` `.invalidResumeValue` (the worker's
/// `invalid_value`), and nothing is applied.
///
/// ```swift
/// let review = ToolCallReview(messages: \ChatState.messages, policies: [
///     "send_email": .all(description: "Check the recipient"),
///     "weather": ToolReviewPolicy(allowedDecisions: [.approve, .reject]),
/// ])
/// graph.addNode("review", destinations: ["tools", "agent"], context: review.node(tools: "tools", model: "agent"))
/// ```
/// The tools node should run ``ToolCallReview/callsToRun(in:)``: the last assistant message's
/// calls that no tool message answers yet.
public struct ToolCallReview<State: GraphState>: @unchecked Sendable {
    // @unchecked: the only non-Sendable member is the key path, which is immutable and names
    // a stored property of a Sendable state type.

    /// How many interrupts a review raises.
    public enum Mode: Sendable, Equatable {
        /// One interrupt for all reviewed calls of the message.
        case batched
        /// One interrupt per reviewed call, in order.
        case perCall
    }

    /// The policies, by tool name.
    public var policies: [String: ToolReviewPolicy]
    /// Batched or per call. Default: batched.
    public var mode: Mode
    /// The first line of a call's default description. Default: "Tool execution requires approval".
    public var descriptionPrefix: String
    let messages: WritableKeyPath<State, [Message]>

    /// Creates a review.
    /// - Parameters:
    ///   - messages: The message-list field (declared with `Channel.messages`).
    ///   - policies: A policy per tool name; tools without one run without review.
    ///   - mode: Default: ``Mode/batched``.
    ///   - descriptionPrefix: Default: "Tool execution requires approval".
    public init(
        messages: WritableKeyPath<State, [Message]>, policies: [String: ToolReviewPolicy], mode: Mode = .batched,
        descriptionPrefix: String = "Tool execution requires approval"
    ) {
        self.messages = messages
        self.policies = policies
        self.mode = mode
        self.descriptionPrefix = descriptionPrefix
    }

    /// The last message when it is an assistant message with tool calls.
    static func lastRequest(in messages: [Message]) -> Message? {
        guard let last = messages.last(where: { $0.role != .tool }), last.role == .assistant, !last.toolCalls.isEmpty else { return nil }
        return last
    }

    /// The calls of the last assistant message that no tool message answers yet: what a tools
    /// node should run after a review.
    public static func callsToRun(in messages: [Message]) -> [ToolCall] {
        guard let request = lastRequest(in: messages) else { return [] }
        let answered = Set(messages.filter { $0.role == .tool }.compactMap(\.toolCallID))
        return request.toolCalls.filter { !answered.contains($0.id) }
    }

    /// The calls of `message` that need review under the policies.
    public func reviewedCalls(of message: Message) -> [ToolCall] {
        message.toolCalls.filter { call in
            guard let policy = policies[call.name] else { return false }
            return policy.when?(call) ?? true
        }
    }

    /// The review request for some calls (all in one request).
    public func request(for calls: [ToolCall]) -> ReviewRequest {
        let actions = calls.map { call in
            ActionRequest(
                id: call.id, name: call.name, args: call.arguments,
                description: policies[call.name]?.description ?? "\(descriptionPrefix)\n\nTool: \(call.name)\nArgs: \(call.arguments)")
        }
        var configs: [ReviewConfig] = []
        for call in calls where !configs.contains(where: { $0.actionName == call.name }) {
            let policy = policies[call.name] ?? ToolReviewPolicy()
            configs.append(ReviewConfig(actionName: call.name, allowedDecisions: policy.allowedDecisions, argsSchema: policy.argumentsSchema))
        }
        return ReviewRequest(actionRequests: actions, reviewConfigs: configs)
    }

    /// Reviews the last assistant message's tool calls: asks the human (with `interrupt`, so
    /// call it from a node) and applies the decisions.
    /// - Returns: The messages to write and the calls left to run; `nil` when the last message
    ///   requests no tool call.
    /// - Throws: ``GraphInterrupt`` to pause (let it propagate); `GraphError`
    ///   `.invalidResumeValue` for an answer that breaks the policy.
    public func review(_ messages: [Message]) async throws -> ToolReviewOutcome? {
        guard let message = Self.lastRequest(in: messages) else { return nil }
        let answered = Set(messages.filter { $0.role == .tool }.compactMap(\.toolCallID))
        let reviewed = reviewedCalls(of: message).filter { !answered.contains($0.id) }
        var decisions: [String: ReviewDecision] = [:]
        if !reviewed.isEmpty {
            switch mode {
            case .batched:
                let request = request(for: reviewed)
                let response = try request.response(from: try await interrupt(request.json, as: JSONValue.self))
                for (call, decision) in zip(reviewed, response.decisions) { decisions[call.id] = decision }
            case .perCall:
                for call in reviewed {
                    let request = request(for: [call])
                    decisions[call.id] = try request.response(from: try await interrupt(request.json, as: JSONValue.self)).decisions[0]
                }
            }
        }
        return Self.apply(decisions, to: message, answered: answered)
    }

    /// Applies decisions (by call id) to an assistant message.
    static func apply(_ decisions: [String: ReviewDecision], to message: Message, answered: Set<String>) -> ToolReviewOutcome {
        var revised = message
        var replies: [Message] = []
        var toRun: [ToolCall] = []
        for (i, call) in message.toolCalls.enumerated() where !answered.contains(call.id) {
            switch decisions[call.id] {
            case nil, .approve?:
                toRun.append(call)
            case .edit(let arguments)?:
                revised.toolCalls[i].arguments = arguments
                toRun.append(revised.toolCalls[i])
            case .reject(let feedback)?:
                let text = "rejected by the reviewer: \(feedback ?? "no reason given")"
                replies.append(Message(id: "tool-\(call.id)", role: .tool, content: text, toolCallID: call.id))
            case .respond(let text)?:
                replies.append(Message(id: "tool-\(call.id)", role: .tool, content: text, toolCallID: call.id))
            }
        }
        return ToolReviewOutcome(messages: (revised == message ? [] : [revised]) + replies, decisions: decisions, callsToRun: toRun)
    }

    /// A node body that reviews and routes: to `tools` when calls are left to run, to `model`
    /// when every call was rejected or answered (the model reads the tool messages), and to
    /// `END` when the last message requests no tool call.
    /// - Parameters:
    ///   - tools: The node that runs the tool calls. Default: "tools".
    ///   - model: The node that calls the model. Default: "agent".
    public func node(tools: String = "tools", model: String = "agent") -> NodeAction<State> {
        let review = self
        return { state, _ in
            guard let outcome = try await review.review(state[keyPath: review.messages]) else { return .goto(END) }
            let next = outcome.callsToRun.isEmpty ? model : tools
            return outcome.messages.isEmpty ? .goto(next) : .goto(next, update: .set(review.messages, outcome.messages))
        }
    }
}
