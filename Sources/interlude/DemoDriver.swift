import Foundation
import Interlude

/// What the human (or the script) does with one pending interrupt.
enum Reply: Sendable {
    /// Resume with this answer.
    case answer(JSONValue)
    /// Give no answer and let the interrupt's deadline pass (the demo's clock jumps ahead).
    case waitForDeadline

    static func encode(_ value: some Encodable) throws -> Reply { .answer(try JSONValue(encoding: value)) }
}

/// Everything one demo run needs: where to print (nothing when `console` is `nil`), whether
/// answers are scripted, the checkpointer and clock the graphs share, and the thread id.
struct DemoContext: Sendable {
    let console: Console?
    let auto: Bool
    let checkpointer: InMemoryCheckpointer
    let clock: ManualClock
    let thread: String

    func say(_ line: String = "") { console?.say(line) }
}

/// How a demo run ended: the final status and how many answers it took.
struct DemoOutcome: Sendable {
    var status: ThreadStatus
    var resumes: Int
}

/// Runs a graph on a thread until it finishes, answering every pause with `reply`, and
/// prints each node's writes, each question and the final state as it goes.
func drive<State: GraphState>(
    _ app: CompiledGraph<State>, input: State, context: DemoContext,
    reply: (Interrupt) throws -> Reply
) async throws -> DemoOutcome {
    var result = try await consume(app.stream(input, thread: context.thread, mode: .updates), context)
    var resumes = 0
    while result.isInterrupted {
        guard let interrupt = result.interrupts.first else {
            context.say("   ⏸ paused before \(result.next.joined(separator: ", ")) (breakpoint); continuing")
            result = try await consume(app.stream(thread: context.thread, mode: .updates), context)
            continue
        }
        resumes += 1
        switch try reply(interrupt) {
        case .answer(let value):
            context.say("   ▶ resuming with \(value)")
            result = try await consume(
                app.stream(Command(resumeByID: [interrupt.id: value]), thread: context.thread, mode: .updates), context)
        case .waitForDeadline:
            let deadline = interrupt.deadline ?? context.clock.now
            let wait = max(0, deadline.timeIntervalSince(context.clock.now)) + 1
            context.clock.advance(by: wait)
            context.say("   ⏱ no answer; the demo clock moves \(Int(wait)) s past the deadline and the timer sweep runs")
            if case .answer(let fallback)? = interrupt.onTimeout {
                context.say("   ▶ the deadline passed: continuing with the default answer \(fallback)")
            }
            guard let expired = try await app.expire(thread: context.thread) else {
                throw DemoError("interrupt \(interrupt.id) had no deadline to pass; answer it instead")
            }
            result = expired
        }
    }
    if let console = context.console {
        let detail = result.failureReason.map { " (\($0))" } ?? ""
        console.say("   ■ \(result.status.rawValue)\(detail) after \(resumes) pause\(resumes == 1 ? "" : "s"). Final state:")
        console.say(indent(try prettyJSON(compact(try JSONValue(encoding: result.values))), by: 6))
    }
    return DemoOutcome(status: result.status, resumes: resumes)
}

/// Drains one streamed invocation, printing node updates, and returns how it ended.
private func consume<State: GraphState>(_ run: GraphRun<State>, _ context: DemoContext) async throws -> RunResult<State> {
    for try await event in run {
        switch event {
        case .updates(let node, let writes):
            let fields = writes.keys.sorted().map { "\($0)=\(abbreviate(compact(writes[$0]!).description))" }
            context.say("   ▸ \(node == START ? "input" : node): \(fields.isEmpty ? "(no writes)" : fields.joined(separator: ", "))")
        case .finished(let result):
            return result
        case .values, .interrupts:
            break
        }
    }
    throw DemoError("the run stream ended without a result")
}

/// A demo failure with a message for the terminal.
struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Drops the noise of chat messages (`isRemoval: false`, empty `toolCalls`) for display.
func compact(_ value: JSONValue) -> JSONValue {
    switch value {
    case .array(let items):
        return .array(items.map(compact))
    case .object(var fields):
        if fields["role"] != nil {
            if fields["isRemoval"] == false { fields["isRemoval"] = nil }
            if fields["toolCalls"] == [] { fields["toolCalls"] = nil }
        }
        return .object(fields.mapValues(compact))
    default:
        return value
    }
}

func indent(_ text: String, by spaces: Int) -> String {
    let pad = String(repeating: " ", count: spaces)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { pad + $0 }.joined(separator: "\n")
}

func abbreviate(_ text: String, to limit: Int = 70) -> String {
    let flat = text.replacingOccurrences(of: "\\n", with: " ")
    return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
}
