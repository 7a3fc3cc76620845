import Foundation
import Interlude
import InterludeWorker

/// What the terminal review desk knows and shows, as a state machine with no I/O: events from
/// the reviews and events topics and lines typed go in, text to show and commands to send come
/// out. It keeps one question on screen and the others waiting, and drops a question as soon as
/// the events say it closed elsewhere (another desk, the console, a Python client,
/// `interlude resume`, a deadline), saying who answered it.
///
/// How it knows: a `step` event lists the questions its commit closed
/// (`resolved_interrupts`: id, status, who); a `completed` or `failed` event closes every
/// question of its thread. Events of one thread come in order (one partition), but the reviews
/// and events topics are read side by side, so a question may also be closed before its
/// `interrupt` event arrives: it is then never asked. Workers with step events turned off
/// (`CommandProcessor.Configuration.stepEvents`) leave only the thread's end and the refusal
/// of an answer that came too late (`already_resolved`) to tell.
struct ReviewDeskState {
    /// What the desk does next, in order.
    enum Output: Equatable {
        /// Show a line.
        case say(String)
        /// Show a prompt (no newline: the answer is typed after it).
        case prompt(String)
        /// Publish a command (a resume, an edit).
        case send(CommandMessage)
        /// Leave: the expected runs completed.
        case finish
    }

    /// One question (an `interrupt` event), known by its thread and interrupt id.
    struct Question {
        var event: JSONValue
        var thread: String { event["thread_id"]?.stringValue ?? "?" }
        var key: String { Self.key(thread: thread, interrupt: event["interrupt_id"]?.stringValue ?? "?") }
        static func key(thread: String, interrupt: String) -> String { thread + "\u{1F}" + interrupt }
    }

    /// How a question closed, as a `step` event's `resolved_interrupts` said.
    struct Closure {
        var status: String
        var by: String?

        /// `was answered elsewhere (by bo)`, `passed its deadline (timeout)`, ...
        var phrase: String {
            let who = by.map { " (by \($0))" } ?? ""
            return switch status {
            case "expired": "passed its deadline\(who)"
            case "cancelled": "was cancelled\(who): the run moved on"
            case "ended": "is no longer pending: the run \(by ?? "ended")"
            default: "was already answered elsewhere\(who)"
            }
        }
    }

    /// Leave after this many runs completed (`nil`: stay until input ends).
    let expectedCompletions: Int?
    /// The question on screen, its prompt waiting for an answer.
    private(set) var current: Question?
    /// Questions waiting their turn, in arrival order.
    private var waiting: [Question] = []
    /// Questions closed, by key (kept so a late `interrupt` event is not asked).
    private var closed: [String: Closure] = [:]
    /// Questions answered from here, by the command's id, until the worker applied or refused it.
    private var sent: [String: Question] = [:]
    /// Lines about other threads that came while a question was on screen: shown once it is
    /// answered, so they do not break into the answer being typed.
    private var deferred: [String] = []
    private var completed = Set<String>()

    /// Lines that came with no question on screen, kept for the next question when input is
    /// not a terminal (a piped transcript answers in order, as typed ahead).
    private var typedAhead: [String] = []
    /// Whether lines typed with no question on screen are kept (piped input) or refused with
    /// a note (a terminal: the user cannot mean a question not shown yet).
    let keepsTypedAhead: Bool

    /// Who answers: sent with every answer.
    let actor: ReviewActor?

    init(expectedCompletions: Int?, keepsTypedAhead: Bool, actor: ReviewActor? = nil) {
        self.actor = actor
        self.expectedCompletions = expectedCompletions
        self.keepsTypedAhead = keepsTypedAhead
    }

    // MARK: Inputs

    /// An event read from the reviews or events topic.
    mutating func event(_ json: JSONValue) -> [Output] {
        var out: [Output] = []
        let thread = json["thread_id"]?.stringValue ?? "?"
        switch json["type"]?.stringValue {
        case "interrupt":
            receive(Question(event: json), into: &out)
        case "step":
            for item in json["resolved_interrupts"]?.arrayValue ?? [] {
                guard let id = item["interrupt_id"]?.stringValue else { continue }
                close(Question.key(thread: thread, interrupt: id), Closure(status: item["status"]?.stringValue ?? "resolved", by: item["resolved_by"]?.stringValue), into: &out)
            }
        case "rejected":
            rejected(json, thread: thread, into: &out)
        case "completed":
            completed.insert(thread)
            note("-- thread \(thread) completed: \(Self.summary(json["values"]))", into: &out)
            closeThread(thread, Closure(status: "ended", by: "completed"), into: &out)
        case "failed":
            note("-- thread \(thread) failed: \(json["reason"]?.stringValue ?? "?")", into: &out)
            closeThread(thread, Closure(status: "ended", by: "failed"), into: &out)
        default:
            break
        }
        advance(into: &out)
        return out
    }

    /// A line typed at the prompt.
    mutating func line(_ line: String) -> [Output] {
        guard let question = current else {
            if keepsTypedAhead {
                typedAhead.append(line)
                return []
            }
            return [.say("   (no question is open: the line was ignored; the next question shows when it comes)")]
        }
        if let closure = closed[question.key] {
            // Not reached while events keep up (a closed question leaves the screen at once);
            // kept so an answer is never sent for a question known to be closed.
            current = nil
            var out: [Output] = [.say("   not sent: the question of thread \(question.thread) \(closure.phrase)")]
            advance(into: &out)
            return out
        }
        switch AnswerPresets.command(for: line, review: question.event, actor: actor) {
        case .failure(let explanation):
            return [.say("   \(explanation)"), .say("   \(AnswerPresets.help(graph: question.event["graph"]?.stringValue ?? "", value: question.event["value"]))"), .prompt("   > ")]
        case .success(let command):
            sent[command.id] = question
            current = nil
            var out: [Output] = [.send(command), .say("   sent \(command.type) \(command.id)")]
            advance(into: &out)
            return out
        }
    }

    // MARK: Steps

    private mutating func receive(_ question: Question, into out: inout [Output]) {
        let key = question.key
        if closed[key] != nil || sent.values.contains(where: { $0.key == key }) { return }
        if current?.key == key {
            // Published again by an escalation step: the question on screen is the same one.
            current?.event = question.event
            if let step = question.event["escalation"]?.stringValue {
                out.append(.say(""))
                out.append(.say("   (\(step == "escalate" ? "escalated" : "reminder"): this question is still open)"))
                out.append(.prompt("   > "))
            }
        } else if let index = waiting.firstIndex(where: { $0.key == key }) {
            waiting[index].event = question.event
        } else {
            waiting.append(question)
        }
    }

    private mutating func close(_ key: String, _ closure: Closure, into out: inout [Output]) {
        guard closed[key] == nil else { return }
        closed[key] = closure
        if current?.key == key, let question = current {
            current = nil
            out.append(.say(""))
            out.append(.say("-- thread \(question.thread): this question \(closure.phrase); not asking it any more"))
        } else if let index = waiting.firstIndex(where: { $0.key == key }) {
            let question = waiting.remove(at: index)
            note("-- thread \(question.thread): a waiting question \(closure.phrase); it will not be asked", into: &out)
        }
    }

    private mutating func closeThread(_ thread: String, _ closure: Closure, into out: inout [Output]) {
        let keys = ([current].compactMap { $0 } + waiting).filter { $0.thread == thread }.map(\.key)
        for key in keys { close(key, closure, into: &out) }
    }

    private mutating func rejected(_ json: JSONValue, thread: String, into out: inout [Output]) {
        let reason = json["reason"]?.stringValue ?? "?"
        let commandID = json["command_id"]?.stringValue
        guard let commandID, let question = sent.removeValue(forKey: commandID) else {
            note("-- thread \(thread): command refused (\(reason)): \(json["message"]?.stringValue ?? "")", into: &out)
            return
        }
        switch reason {
        case "already_resolved", "no_pending_interrupt":
            let closure = closed[question.key] ?? Closure(status: "resolved", by: nil)
            note("-- thread \(thread): your answer (\(commandID)) was not applied: the question \(closure.phrase)", into: &out)
        case "invalid_value":
            note("-- thread \(thread): command refused (\(reason)): \(json["message"]?.stringValue ?? "")", into: &out)
            note("   the question is still open; answer it again", into: &out)
            waiting.insert(question, at: 0)
        default:
            note("-- thread \(thread): command refused (\(reason)): \(json["message"]?.stringValue ?? "")", into: &out)
        }
    }

    /// Shows `line` now, or after the question on screen is answered.
    private mutating func note(_ line: String, into out: inout [Output]) {
        if current != nil { deferred.append(line) } else { out.append(.say(line)) }
    }

    /// With no question on screen: shows what was held back, then the next question, or
    /// finishes when the expected runs completed.
    private mutating func advance(into out: inout [Output]) {
        guard current == nil else { return }
        out += deferred.map(Output.say)
        deferred = []
        if let expectedCompletions, completed.count >= expectedCompletions {
            out += [.say(""), .say("All \(expectedCompletions) runs completed."), .finish]
            return
        }
        guard !waiting.isEmpty else { return }
        let question = waiting.removeFirst()
        current = question
        let json = question.event
        out.append(.say(""))
        out.append(.say("== thread \(question.thread) asks (\(json["graph"]?.stringValue ?? "?") / node \(json["node"]?.stringValue ?? "?")):"))
        out.append(.say(Self.pretty(json["value"] ?? .null).split(separator: "\n").map { "   " + $0 }.joined(separator: "\n")))
        if let namespace = json["namespace"]?.stringValue { out.append(.say("   (asked inside the subgraph \(namespace))")) }
        if let deadline = json["deadline"]?.stringValue { out.append(.say("   (answer before \(deadline))")) }
        out.append(.say("   \(AnswerPresets.help(graph: json["graph"]?.stringValue ?? "", value: json["value"]))"))
        out.append(.prompt("   > "))
        if !typedAhead.isEmpty {
            let line = typedAhead.removeFirst()
            out.append(.say(line))
            out += self.line(line)
        }
    }

    private static func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? value.description
    }

    private static func summary(_ values: JSONValue?) -> String {
        guard let object = values?.objectValue else { return "" }
        return object.keys.sorted().filter { $0 != "log" && $0 != "draft" }.map { "\($0)=\(object[$0]!)" }.joined(separator: ", ")
    }
}
