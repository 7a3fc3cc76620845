import Foundation

/// The mapping between a tool-call review and LangGraph's Agent Inbox types, so an inbox app
/// built for LangGraph's `HumanInterrupt` / `HumanResponse` works against Interlude.
///
/// A ``ReviewRequest`` renders as one `HumanInterrupt` per call:
/// `{"action_request": {"action", "args"}, "config": {"allow_accept", "allow_edit",
/// "allow_respond", "allow_ignore"}, "description"}`, where `allow_accept` is `approve`,
/// `allow_edit` is `edit`, `allow_respond` is `respond` and `allow_ignore` is `reject` in the
/// tool's allowed decisions.
///
/// The inbox's answers (a list of `HumanResponse`, `{"type", "args"}`, one per call, or a
/// single one for a one-call review) are accepted as the resume value as they are:
/// `accept` is `approve`, `edit` with `args: {"action", "args"}` is `edit`, `response` with
/// `args: "text"` is `respond`, and `ignore` is `reject` with the message ``ignoredMessage``
/// (LangGraph's prebuilt tool wrapper leaves `ignore` to the application; not running the call
/// is the safe reading). They are checked against the policy like any other answer.
public enum AgentInbox {
    /// The tool message a call gets when the inbox answers `ignore`.
    public static let ignoredMessage = "ignored by the reviewer"

    /// The Agent Inbox `HumanInterrupt` objects for a review request, one per call, in order.
    public static func humanInterrupts(for request: ReviewRequest) -> [JSONValue] {
        request.actionRequests.map { action in
            let allowed = Set(request.config(for: action.name)?.allowedDecisions ?? [])
            var object: [String: JSONValue] = [
                "action_request": ["action": .string(action.name), "args": action.args],
                "config": [
                    "allow_accept": .bool(allowed.contains(.approve)), "allow_edit": .bool(allowed.contains(.edit)),
                    "allow_respond": .bool(allowed.contains(.respond)), "allow_ignore": .bool(allowed.contains(.reject)),
                ],
            ]
            if let description = action.description { object["description"] = .string(description) }
            return .object(object)
        }
    }

    /// The Agent Inbox `HumanResponse` for a decision (what an inbox would send for it).
    public static func humanResponse(for decision: ReviewDecision, action: String) -> JSONValue {
        switch decision {
        case .approve: ["type": "accept", "args": .null]
        case .edit(let arguments): ["type": "edit", "args": ["action": .string(action), "args": arguments]]
        case .respond(let message): ["type": "response", "args": .string(message)]
        case .reject: ["type": "ignore", "args": .null]
        }
    }
}
