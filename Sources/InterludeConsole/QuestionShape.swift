import Foundation
import Interlude

/// How the console offers answers to an interrupt value: a tool-call review request
/// (``ReviewRequest``) gets one button per allowed decision; other values get buttons only where
/// their shape is obvious, and a JSON answer box is always there.
enum QuestionShape: Equatable {
    /// `{prompt, recipient, draft}` (the approval example): approve, or reject with a comment.
    /// Answers `{"approved": true|false, "comment": ...}`.
    case approval
    /// A review request with one tool call: one button per allowed decision (approve, edit the
    /// arguments, reject with feedback, respond as the tool). Answers `{"decisions": [d]}`,
    /// which the worker checks against the policy. A request with several calls is answered
    /// with the JSON box.
    case toolReview(ReviewRequest)
    /// `{prompt, draft}` without a recipient (the edit-state example): replace the draft or keep
    /// it. Answers `{"draft": text}` or `{}`.
    case draftEdit(draft: String)
    /// Anything else: the JSON answer box only.
    case json

    init(_ value: JSONValue) {
        if value["recipient"]?.stringValue != nil, value["draft"]?.stringValue != nil {
            self = .approval
        } else if let request = ReviewRequest(json: value), request.actionRequests.count == 1 {
            self = .toolReview(request)
        } else if let draft = value["draft"]?.stringValue {
            self = .draftEdit(draft: draft)
        } else {
            self = .json
        }
    }

    /// The resume value a submitted form stands for.
    /// - Throws: ``AnswerError`` saying what was wrong with the form.
    func answer(decision: String, form: [String: String]) throws(AnswerError) -> JSONValue {
        let text = { (field: String) in (form[field] ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
        switch (self, decision) {
        case (_, "json"):
            return try Self.parseJSON(form["json"] ?? "", field: "JSON answer")
        case (.approval, "approve"):
            let comment = text("comment")
            return comment.isEmpty ? ["approved": true] : ["approved": true, "comment": .string(comment)]
        case (.approval, "reject"):
            return ["approved": false, "comment": .string(text("comment"))]
        case (.toolReview(let request), _) where !request.allows(decision):
            let allowed = request.reviewConfigs.first?.allowedDecisions.map(\.rawValue).joined(separator: ", ") ?? "none"
            throw AnswerError("the decision '\(decision)' is not allowed for this tool call; allowed: \(allowed)")
        case (.toolReview, "approve"):
            return ReviewResponse(.approve).json
        case (.toolReview, "edit"):
            return ReviewResponse(.edit(arguments: try Self.parseJSON(form["arguments"] ?? "", field: "arguments"))).json
        case (.toolReview, "reject"):
            let feedback = text("feedback")
            return ReviewResponse(.reject(message: feedback.isEmpty ? nil : feedback)).json
        case (.toolReview, "respond"):
            guard !text("response").isEmpty else { throw AnswerError("the tool result is empty: write what the tool should return, then press Respond") }
            return ReviewResponse(.respond(message: text("response"))).json
        case (.draftEdit, "edit"):
            return ["draft": .string(form["draft"] ?? "")]
        case (.draftEdit, "keep"):
            return [:]
        default:
            throw AnswerError("the decision '\(decision)' is not offered for this question; use the buttons on the thread page or the JSON answer box")
        }
    }

    static func parseJSON(_ text: String, field: String) throws(AnswerError) -> JSONValue {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw AnswerError("the \(field) is empty: write a JSON value, such as {\"approved\": true}")
        }
        switch JSONValue.parsing(Data(text.utf8)) {
        case .success(let value): return value
        case .failure(let error): throw AnswerError("the \(field) is not valid JSON: \(error); correct it and answer again")
        }
    }
}

extension ReviewRequest {
    /// `true` when `decision` names a decision the first call's tool allows.
    func allows(_ decision: String) -> Bool {
        guard let type = ReviewDecisionType(rawValue: decision), let first = actionRequests.first else { return false }
        return config(for: first.name)?.allowedDecisions.contains(type) == true
    }
}

/// A form answer the console cannot turn into a resume value; the message says what to fix.
struct AnswerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
