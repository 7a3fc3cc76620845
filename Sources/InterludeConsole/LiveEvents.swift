import Foundation
import Interlude

/// Turns the events a thread's outbox holds into sentences for the live panel, and says
/// which of them end the follow (the run paused again, ended, or refused the answer).
enum LiveEvents {
    /// One line for the page.
    struct Line: Equatable {
        var text: String
        /// `nil` while the run goes on; else `completed`, `failed`, `paused` or `refused`.
        var outcome: String?
    }

    static func line(for payload: Data, command: String?) -> Line? {
        guard let event = try? JSONValue(json: payload), let type = event["type"]?.stringValue else { return nil }
        switch type {
        case "step":
            let step = event["step"]?.numberValue.map { String(Int($0)) } ?? "?"
            return Line(text: "Step \(step) committed; the thread is \(event["status"]?.stringValue ?? "running").", outcome: nil)
        case "interrupt":
            let node = event["node"]?.stringValue ?? "a node"
            let prompt = event["value"].map { HTML.summary($0) } ?? ""
            return Line(text: "The run paused again: node \(node) asks \(prompt)", outcome: "paused")
        case "completed":
            return Line(text: "The run completed.", outcome: "completed")
        case "failed":
            return Line(text: "The run failed: \(event["reason"]?.stringValue ?? "no reason given").", outcome: "failed")
        case "rejected":
            let ours = command == nil || event["command_id"]?.stringValue == command
            let reason = event["reason"]?.stringValue ?? "unknown"
            let text = "\(ours ? "Your answer was refused" : "Another command was refused"): \(words(reason)) (\(reason): \(event["message"]?.stringValue ?? ""))"
            return Line(text: text, outcome: ours ? "refused" : nil)
        default:
            return nil
        }
    }

    /// A refusal reason in words.
    static func words(_ reason: String) -> String {
        switch reason {
        case "already_resolved": "this question was already answered (by someone else, or by this answer sent twice)"
        case "unknown_interrupt": "this question no longer exists on the thread"
        case "no_pending_interrupt": "the thread is not waiting for an answer any more"
        case "invalid_value", "invalid_input": "the answer does not fit what the graph expects"
        case "ambiguous_resume": "the thread waits on several questions and the answer did not say which"
        case "thread_busy": "the thread is busy"
        case "unknown_thread": "the thread does not exist"
        case "unknown_checkpoint": "the checkpoint the answer was made for is gone"
        case "graph_version_mismatch": "the thread was written by another version of its graph"
        case "not_allowed": "you are not allowed to answer this question"
        case "timed_out": "the question's deadline passed"
        default: "the worker refused it"
        }
    }

    /// The text of one server-sent event.
    static func frame(_ line: Line) -> String {
        var object: [String: JSONValue] = ["text": .string(line.text)]
        if let outcome = line.outcome { object["outcome"] = .string(outcome) }
        let data = JSONValue.object(object).description
        return line.outcome == nil ? "data: \(data)\n\n" : "event: done\ndata: \(data)\n\n"
    }
}
