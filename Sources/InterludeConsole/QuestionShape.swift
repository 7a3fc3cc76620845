import Foundation
import Interlude

/// How the console offers answers to an interrupt value. Until the review-request shape of
/// issue 10 lands, the value is raw JSON: buttons appear only where its shape is obvious, and
/// a JSON answer box is always there.
enum QuestionShape: Equatable {
    /// `{prompt, recipient, draft}` (the approval example): approve, or reject with a comment.
    /// Answers `{"approved": true|false, "comment": ...}`.
    case approval
    /// `{prompt, call: {name, arguments}}` (the tool-review example): approve, edit the
    /// arguments, or reject with feedback. Answers `{"action": ..., "arguments"|"feedback": ...}`.
    case toolCall(arguments: JSONValue)
    /// `{prompt, draft}` without a recipient (the edit-state example): replace the draft or keep
    /// it. Answers `{"draft": text}` or `{}`.
    case draftEdit(draft: String)
    /// Anything else: the JSON answer box only.
    case json

    init(_ value: JSONValue) {
        if value["recipient"]?.stringValue != nil, value["draft"]?.stringValue != nil {
            self = .approval
        } else if let call = value["call"], call["name"]?.stringValue != nil, let arguments = call["arguments"] {
            self = .toolCall(arguments: arguments)
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
        case (.toolCall, "approve"):
            return ["action": "approve"]
        case (.toolCall, "edit"):
            return ["action": "edit", "arguments": try Self.parseJSON(form["arguments"] ?? "", field: "arguments")]
        case (.toolCall, "reject"):
            return ["action": "reject", "feedback": .string(text("feedback"))]
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
        do {
            return try JSONValue(json: Data(text.utf8))
        } catch {
            throw AnswerError("the \(field) is not valid JSON (\(error)); correct it and answer again")
        }
    }
}

/// A form answer the console cannot turn into a resume value; the message says what to fix.
struct AnswerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
