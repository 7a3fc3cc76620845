import Foundation
import Interlude
import InterludeExamples

/// One example as the demo runs it: the input, how a human answers on the terminal (a
/// blank line or end of input picks the default named in the prompt), and the scripted
/// answers `--auto-approve` uses. The defaults and the scripted answers agree, so
/// `interlude demo </dev/null` and `interlude demo --auto-approve` take the same path.
struct DemoCase: Sendable {
    let name: String
    let run: @Sendable (DemoContext) async throws -> DemoOutcome

    static let all: [DemoCase] = [approval, editState, toolReview, validatedInput, multiQuestion, conditional, timeout, subgraphReview]

    static func named(_ name: String) -> DemoCase? { all.first { $0.name == name } }

    // MARK: The examples

    static let approval = DemoCase(name: ApprovalExample.name) { context in
        let app = try ApprovalExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        return try await drive(app, input: ApprovalState(recipient: "ana@example.com", subject: "Q3 report"), context: context) { interrupt in
            let question = try interrupt.value(as: ApprovalQuestion.self)
            return try ask(context, interrupt, [question.prompt, question.draft], auto: (try Reply.encode(ApprovalAnswer.approve), "approve")) { console in
                while true {
                    guard let line = console.ask("approve | reject [reason]   (blank = approve)") else {
                        return try Reply.encode(ApprovalAnswer.approve)
                    }
                    let (word, rest) = split(line)
                    switch word {
                    case "approve", "a", "yes", "y": return try Reply.encode(ApprovalAnswer(approved: true, comment: rest))
                    case "reject", "r", "no", "n": return try Reply.encode(ApprovalAnswer.reject(rest ?? "rejected in the demo"))
                    default: console.say("   '\(line)' is not an answer here")
                    }
                }
            }
        }
    }

    static let editState = DemoCase(name: EditStateExample.name) { context in
        let app = try EditStateExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        return try await drive(app, input: EditState(topic: "the 1.0 release"), context: context) { interrupt in
            let question = try interrupt.value(as: EditQuestion.self)
            return try ask(context, interrupt, [question.prompt, question.draft], auto: (try Reply.encode(EditAnswer.keep), "(keep)")) { console in
                try Reply.encode(EditAnswer(draft: console.ask("type the new text   (blank = keep the draft)")))
            }
        }
    }

    static let toolReview = DemoCase(name: ToolReviewExample.name) { context in
        let app = try ToolReviewExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        let input = ToolReviewState(question: "What is the weather in Lisbon?")
        return try await drive(app, input: input, context: context) { interrupt in
            guard let request = ReviewRequest(json: interrupt.value) else {
                throw DemoError("the tool-review example asked something that is not a review request: \(interrupt.value)")
            }
            let shown = request.actionRequests.flatMap { action in
                [action.description ?? action.name, "\(action.name)(\(action.args))   allowed: "
                    + (request.config(for: action.name)?.allowedDecisions.map(\.rawValue).joined(separator: ", ") ?? "none")]
            }
            let approveAll = Reply.answer(ReviewResponse(decisions: request.actionRequests.map { _ in .approve }).json)
            return ask(context, interrupt, shown, auto: (approveAll, "approve")) { console in
                var decisions: [ReviewDecision] = []
                for action in request.actionRequests {
                    decisions.append(askDecision(console, action, single: ReviewRequest(
                        actionRequests: [action], reviewConfigs: request.reviewConfigs.filter { $0.actionName == action.name })))
                }
                return .answer(ReviewResponse(decisions: decisions).json)
            }
        }
    }

    static let validatedInput = DemoCase(name: ValidatedInputExample.name) { context in
        let app = try ValidatedInputExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        return try await drive(app, input: ValidatedInputState(), context: context) { interrupt in
            let question = try interrupt.value(as: AgeQuestion.self)
            // Scripted: one refused answer first, to show the loop.
            let scripted = question.attempt == 1 ? "15" : "21"
            let shown = ["(attempt \(question.attempt)) \(question.prompt)"]
            return ask(context, interrupt, shown, auto: (.answer(.string(scripted)), scripted)) { console in
                .answer(.string(console.ask("your age   (blank = 21)") ?? "21"))
            }
        }
    }

    static let multiQuestion = DemoCase(name: MultiQuestionExample.name) { context in
        let app = try MultiQuestionExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        return try await drive(app, input: SignupState(), context: context) { interrupt in
            let question = try interrupt.value(as: FormQuestion.self)
            let fallback = question.field == "name" ? "Ada" : "ada@example.com"
            return ask(context, interrupt, [question.prompt], auto: (.answer(.string(fallback)), fallback)) { console in
                .answer(.string(console.ask("\(question.field)   (blank = \(fallback))") ?? fallback))
            }
        }
    }

    static let conditional = DemoCase(name: ConditionalInterruptExample.name) { context in
        let app = try ConditionalInterruptExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        var outcome = DemoOutcome(status: .completed, resumes: 0)
        for (i, text) in ["Please refund invoice 42", "My printer is on fire"].enumerated() {
            context.say("   ticket: \"\(text)\"")
            let ticketContext = DemoContext(
                console: context.console, auto: context.auto, checkpointer: context.checkpointer, clock: context.clock,
                thread: "\(context.thread)-\(i + 1)")
            let one = try await drive(app, input: TicketState(text: text), context: ticketContext) { interrupt in
                let question = try interrupt.value(as: LowConfidenceQuestion.self)
                return try ask(context, interrupt, [question.prompt], auto: (try Reply.encode(ProceedAnswer(proceed: true)), "yes")) { console in
                    guard let line = console.ask("yes | no (escalate) | another label   (blank = yes)") else {
                        return try Reply.encode(ProceedAnswer(proceed: true))
                    }
                    switch line.lowercased() {
                    case "yes", "y": return try Reply.encode(ProceedAnswer(proceed: true))
                    case "no", "n": return try Reply.encode(ProceedAnswer(proceed: false))
                    default: return try Reply.encode(ProceedAnswer(proceed: true, label: line))
                    }
                }
            }
            outcome.resumes += one.resumes
            if one.status != .completed { outcome.status = one.status }
        }
        return outcome
    }

    static let timeout = DemoCase(name: TimeoutDefaultExample.name) { context in
        let app = try TimeoutDefaultExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        return try await drive(app, input: MaintenanceState(plan: "rotate the TLS certificates"), context: context) { interrupt in
            let question = try interrupt.value(as: MaintenanceQuestion.self)
            let deadline = interrupt.deadline.map { ISO8601DateFormatter().string(from: $0) } ?? "none"
            let shown = [question.prompt, "deadline: \(deadline) (demo clock)"]
            return try ask(context, interrupt, shown, auto: (.waitForDeadline, "(no answer)")) { console in
                while true {
                    switch console.ask("approve | postpone   (blank = no answer: let the deadline pass)")?.lowercased() {
                    case nil: return .waitForDeadline
                    case "approve", "a", "yes", "y": return try Reply.encode(MaintenanceAnswer(approved: true))
                    case "postpone", "p", "no", "n": return try Reply.encode(MaintenanceAnswer(approved: false))
                    case let other?: console.say("   '\(other)' is not an answer here")
                    }
                }
            }
        }
    }
}

extension DemoCase {
    static let subgraphReview = DemoCase(name: SubgraphReviewExample.name) { context in
        let app = try SubgraphReviewExample.makeGraph(checkpointer: context.checkpointer, clock: context.clock)
        return try await drive(app, input: ArticleState(topic: "the 1.0 release"), context: context) { interrupt in
            let question = try interrupt.value(as: DraftQuestion.self)
            let shown = [question.prompt, question.draft, "(asked inside the subgraph \(interrupt.namespace ?? "?"))"]
            return try ask(context, interrupt, shown, auto: (try Reply.encode(DraftVerdict()), "approve")) { console in
                while true {
                    guard let line = console.ask("approve | reject | edit <text>   (blank = approve)") else {
                        return try Reply.encode(DraftVerdict())
                    }
                    let (word, rest) = split(line)
                    switch word {
                    case "approve", "a", "yes", "y": return try Reply.encode(DraftVerdict())
                    case "reject", "r", "no", "n": return try Reply.encode(DraftVerdict(approved: false))
                    case "edit", "e":
                        guard let rest else {
                            console.say("   type the new text after 'edit'")
                            continue
                        }
                        return try Reply.encode(DraftVerdict(draft: rest))
                    default: console.say("   '\(line)' is not an answer here")
                    }
                }
            }
        }
    }
}

/// Shows a question (first line after the asking node, the rest indented) and returns the
/// scripted answer under `--auto-approve`, the human's otherwise; with no console (the
/// quiet `--threads` runs) it only returns the scripted answer.
private func ask(
    _ context: DemoContext, _ interrupt: Interrupt, _ lines: [String], auto scripted: (reply: Reply, label: String),
    _ human: (Console) throws -> Reply
) rethrows -> Reply {
    guard let console = context.console else { return scripted.reply }
    console.say("   ⏸ \(interrupt.node) asks: \(lines.first ?? "")")
    for line in lines.dropFirst() { console.say(indent(line, by: 6)) }
    if context.auto {
        console.say("   > \(scripted.label)   (--auto-approve)")
        return scripted.reply
    }
    return try human(console)
}

/// The first word of a line (lower-cased) and the rest, if any.
private func split(_ line: String) -> (String, String?) {
    let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
    let rest = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
    return (parts.first?.lowercased() ?? "", rest?.isEmpty == true ? nil : rest)
}

/// Asks for one decision on one call until the answer fits the call's policy (checked with the
/// same rules the runtime applies, so the resume is never refused).
private func askDecision(_ console: Console, _ action: ActionRequest, single request: ReviewRequest) -> ReviewDecision {
    while true {
        guard let line = console.ask("\(action.name): approve | edit {json arguments} | reject [feedback] | respond <tool result>   (blank = approve)")
        else { return .approve }
        let (word, rest) = split(line)
        let decision: ReviewDecision
        switch word {
        case "approve", "a", "yes", "y":
            decision = .approve
        case "reject", "r", "no", "n":
            decision = .reject(message: rest ?? "rejected in the demo")
        case "respond", "answer":
            decision = .respond(message: rest ?? console.ask("the tool's result, as text") ?? "")
        case "edit", "e":
            guard let json = rest ?? console.ask("arguments as JSON, e.g. {\"city\": \"Oslo\"}   (blank = keep)") else { return .approve }
            guard let arguments = try? JSONValue(json: Data(json.utf8)), arguments.objectValue != nil else {
                console.say("   that is not a JSON object; try again")
                continue
            }
            decision = .edit(arguments: arguments)
        default:
            console.say("   '\(line)' is not an answer here")
            continue
        }
        do {
            _ = try request.response(from: ReviewResponse(decision).json)
            return decision
        } catch let error as GraphError {
            console.say("   refused: \(error.message)")
        } catch {
            console.say("   refused: \(error)")
        }
    }
}
