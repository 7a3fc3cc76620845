import Foundation

/// What a reviewer may do with a tool call.
public enum ReviewDecisionType: String, Codable, Sendable, CaseIterable, Hashable {
    /// Run the call as proposed.
    case approve
    /// Run the call with new arguments (checked against the tool's argument schema).
    case edit
    /// Do not run the call; the reviewer's feedback goes back to the model as a tool message.
    case reject
    /// Do not run the call; the reviewer acts as the tool and their text is its result.
    case respond
}

/// One tool call put to a reviewer: LangChain's `ActionRequest` plus the call id.
public struct ActionRequest: Codable, Sendable, Equatable {
    /// The tool call's id.
    public var id: String
    /// The tool name.
    public var name: String
    /// The proposed arguments.
    public var args: JSONValue
    /// What the reviewer is asked, for people.
    public var description: String?

    /// Creates an action request.
    public init(id: String, name: String, args: JSONValue, description: String? = nil) {
        self.id = id
        self.name = name
        self.args = args
        self.description = description
    }
}

/// What a reviewer may do with the calls of one tool: LangChain's `ReviewConfig`.
public struct ReviewConfig: Codable, Sendable, Equatable {
    /// The tool name this applies to.
    public var actionName: String
    /// The decisions the reviewer may take, in the order a UI should offer them.
    public var allowedDecisions: [ReviewDecisionType]
    /// The tool's argument schema, which edited arguments must satisfy. Default: none (any
    /// JSON object is accepted).
    public var argsSchema: ArgumentsSchema?

    /// Creates a review config.
    public init(actionName: String, allowedDecisions: [ReviewDecisionType], argsSchema: ArgumentsSchema? = nil) {
        self.actionName = actionName
        self.allowedDecisions = allowedDecisions
        self.argsSchema = argsSchema
    }

    enum CodingKeys: String, CodingKey {
        case actionName = "action_name", allowedDecisions = "allowed_decisions", argsSchema = "args_schema"
    }
}

/// The interrupt value of a tool-call review: the calls to review and what may be done with
/// each. A UI renders it without knowing the graph (see `docs/interrupts.md` and
/// `schemas/kafka/review_request.json`).
///
/// JSON: `{"type": "tool_review", "action_requests": [{id, name, args, description}],
/// "review_configs": [{action_name, allowed_decisions, args_schema}]}`. The `type` member
/// marks the value: when a resume answers an interrupt whose value is a review request, the
/// runtime checks the answer against it before any node runs and refuses it
/// (`GraphError` `.invalidResumeValue`) when it breaks the policy.
public struct ReviewRequest: Sendable, Equatable, Codable {
    /// The marker in the `type` member.
    public static let marker = "tool_review"
    /// The calls to review, in the order of the model's message; one decision each.
    public var actionRequests: [ActionRequest]
    /// One config per tool name among ``actionRequests``.
    public var reviewConfigs: [ReviewConfig]

    /// Creates a request.
    public init(actionRequests: [ActionRequest], reviewConfigs: [ReviewConfig]) {
        self.actionRequests = actionRequests
        self.reviewConfigs = reviewConfigs
    }

    /// The config for a tool name.
    public func config(for name: String) -> ReviewConfig? { reviewConfigs.first { $0.actionName == name } }

    /// The JSON form (the interrupt value).
    public var json: JSONValue {
        // Encoding plain structs of strings and JSON values cannot fail.
        (try? JSONValue(encoding: self)) ?? .null
    }

    /// Reads an interrupt value; `nil` when it is not a review request (no `tool_review`
    /// marker, or members missing), so other questions pass through untouched.
    public init?(json: JSONValue) {
        guard json["type"]?.stringValue == Self.marker, let request = try? json.decode(ReviewRequest.self) else { return nil }
        self = request
    }

    enum CodingKeys: String, CodingKey {
        case type, actionRequests = "action_requests", reviewConfigs = "review_configs"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        actionRequests = try container.decode([ActionRequest].self, forKey: .actionRequests)
        reviewConfigs = try container.decode([ReviewConfig].self, forKey: .reviewConfigs)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.marker, forKey: .type)
        try container.encode(actionRequests, forKey: .actionRequests)
        try container.encode(reviewConfigs, forKey: .reviewConfigs)
    }
}

/// A reviewer's decision on one tool call.
///
/// JSON (LangChain's decisions, plus `respond`): `{"type": "approve"}`,
/// `{"type": "edit", "args": {...}}` (or `"edited_action": {"name", "args"}`),
/// `{"type": "reject", "message": "why"}`, `{"type": "respond", "message": "the result"}`.
public enum ReviewDecision: Sendable, Equatable, Codable {
    /// Run the call as proposed.
    case approve
    /// Run the call with these arguments.
    case edit(arguments: JSONValue)
    /// Do not run the call; tell the model why (or a default sentence when `nil`).
    case reject(message: String?)
    /// Do not run the call; `message` is the tool's result.
    case respond(message: String)

    /// The decision's type.
    public var type: ReviewDecisionType {
        switch self {
        case .approve: .approve
        case .edit: .edit
        case .reject: .reject
        case .respond: .respond
        }
    }

    /// The JSON form.
    public var json: JSONValue {
        switch self {
        case .approve: ["type": "approve"]
        case .edit(let arguments): ["type": "edit", "args": arguments]
        case .reject(let message): message.map { ["type": "reject", "message": .string($0)] } ?? ["type": "reject"]
        case .respond(let message): ["type": "respond", "message": .string(message)]
        }
    }

    public init(from decoder: Decoder) throws {
        let json = try JSONValue(from: decoder)
        do {
            self = try Self.parse(json, name: nil)
        } catch let error as GraphError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }

    /// Reads one decision in any accepted form: Interlude's (`approve`, `edit`, `reject`,
    /// `respond`), LangChain's `edited_action`, or an Agent Inbox `HumanResponse`
    /// (`accept`, `edit`, `response`, `ignore`; see ``AgentInbox``).
    /// - Parameter name: The tool name of the call answered, to refuse an edit that renames it.
    static func parse(_ json: JSONValue, name: String?) throws -> ReviewDecision {
        guard let type = json["type"]?.stringValue else {
            throw GraphError(.invalidResumeValue, "a decision must be an object with a \"type\" (approve, edit, reject or respond), got \(json.shortDescription)")
        }
        switch type {
        case "approve", "accept":
            return .approve
        case "edit":
            // Interlude: args; LangChain: edited_action {name, args}; Agent Inbox: args {action, args}.
            var arguments = json["args"]
            var renamed: String?
            if let action = json["edited_action"] {
                arguments = action["args"]
                renamed = action["name"]?.stringValue
            } else if let inbox = arguments?.objectValue, Set(inbox.keys) == ["action", "args"], let action = inbox["action"]?.stringValue,
                name == nil || action == name
            {
                // Agent Inbox's {action, args}; arguments of a tool that really takes "action"
                // and "args" are read as they are when "action" is not the tool's name.
                arguments = inbox["args"]
            }
            guard let arguments, arguments.objectValue != nil else {
                throw GraphError(.invalidResumeValue, "an edit decision needs the new arguments as a JSON object in \"args\", got \(json.shortDescription)")
            }
            if let renamed, let name, renamed != name {
                throw GraphError(.invalidResumeValue, "an edit may change the arguments of '\(name)' but not the tool (it names '\(renamed)'); reject the call instead")
            }
            return .edit(arguments: arguments)
        case "reject":
            return .reject(message: json["message"]?.stringValue)
        case "ignore":
            // Agent Inbox's "ignore": the call does not run (see AgentInbox).
            return .reject(message: AgentInbox.ignoredMessage)
        case "respond", "response":
            guard let message = json["message"]?.stringValue ?? json["args"]?.stringValue else {
                throw GraphError(.invalidResumeValue, "a respond decision needs the tool's result as text in \"message\", got \(json.shortDescription)")
            }
            return .respond(message: message)
        default:
            throw GraphError(.invalidResumeValue, "unknown decision type '\(type)'; use approve, edit, reject or respond")
        }
    }
}

/// A reviewer's answer to a ``ReviewRequest``: one decision per action request, in order.
///
/// JSON: `{"decisions": [...]}` (LangChain's `HITLResponse`). A plain list of decisions (or of
/// Agent Inbox `HumanResponse`s) is accepted too, and so is a single decision object when the
/// request has one call.
public struct ReviewResponse: Sendable, Equatable, Codable {
    /// The decisions, one per action request, in the request's order.
    public var decisions: [ReviewDecision]

    /// Creates a response.
    public init(decisions: [ReviewDecision]) { self.decisions = decisions }

    /// A response with one decision.
    public init(_ decision: ReviewDecision) { self.decisions = [decision] }

    /// The JSON form: `{"decisions": [...]}`.
    public var json: JSONValue { ["decisions": .array(decisions.map(\.json))] }
}

extension ReviewRequest {
    /// Checks an answer against this request and returns it as a ``ReviewResponse``.
    /// - Throws: `GraphError` `.invalidResumeValue` saying what was wrong and what is allowed:
    ///   the wrong number of decisions, an unknown decision type, a decision the tool's policy
    ///   does not allow, or edited arguments that break the tool's argument schema.
    public func response(from answer: JSONValue) throws -> ReviewResponse {
        var list: [JSONValue]
        if let decisions = answer["decisions"]?.arrayValue {
            list = decisions
        } else if let array = answer.arrayValue {
            list = array
        } else if answer["type"] != nil {
            list = [answer]
        } else {
            throw GraphError(
                .invalidResumeValue,
                "a tool-call review is answered with {\"decisions\": [...]} (one decision per call, in order), got \(answer.shortDescription)")
        }
        guard list.count == actionRequests.count else {
            let calls = actionRequests.map { "\($0.name) (\($0.id))" }.joined(separator: ", ")
            throw GraphError(
                .invalidResumeValue,
                "the review asks about \(actionRequests.count) tool call\(actionRequests.count == 1 ? "" : "s") (\(calls)) and the answer has \(list.count) decision\(list.count == 1 ? "" : "s"); give exactly one per call, in order")
        }
        var decisions: [ReviewDecision] = []
        for (i, (request, json)) in zip(actionRequests, list).enumerated() {
            let allowed = config(for: request.name)?.allowedDecisions ?? []
            let allowedText = allowed.isEmpty ? "none" : allowed.map(\.rawValue).joined(separator: ", ")
            let place = "decision \(i + 1) (tool '\(request.name)', call '\(request.id)')"
            let decision: ReviewDecision
            do {
                decision = try ReviewDecision.parse(json, name: request.name)
            } catch let error as GraphError {
                throw GraphError(.invalidResumeValue, "\(place): \(error.message); allowed: \(allowedText)")
            }
            guard allowed.contains(decision.type) else {
                throw GraphError(.invalidResumeValue, "\(place) is '\(decision.type.rawValue)', which the policy does not allow; allowed: \(allowedText)")
            }
            if case .edit(let arguments) = decision, let schema = config(for: request.name)?.argsSchema {
                let problems = schema.violations(of: arguments)
                if !problems.isEmpty {
                    throw GraphError(
                        .invalidResumeValue,
                        "\(place): the edited arguments break the tool's argument schema: \(problems.joined(separator: "; ")); send arguments that satisfy it")
                }
            }
            decisions.append(decision)
        }
        return ReviewResponse(decisions: decisions)
    }
}
