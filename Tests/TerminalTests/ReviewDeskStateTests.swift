import Foundation
import Interlude
import InterludeWorker
import Testing

@testable import interlude

/// The review desk's decisions without a terminal or a cluster: events and typed lines in,
/// text and commands out.
@Suite("Review desk state")
struct ReviewDeskStateTests {
    func question(_ thread: String, _ interrupt: String, escalation: String? = nil) -> JSONValue {
        var event: [String: JSONValue] = [
            "type": "interrupt", "thread_id": .string(thread), "interrupt_id": .string(interrupt), "graph": "approval", "node": "review",
            "value": ["prompt": .string("Send it to \(thread)?")],
        ]
        if let escalation { event["escalation"] = .string(escalation) }
        return .object(event)
    }

    func step(_ thread: String, closing interrupt: String, status: String = "resolved", by: String?, command: String? = nil) -> JSONValue {
        var item: [String: JSONValue] = ["interrupt_id": .string(interrupt), "status": .string(status)]
        if let by { item["resolved_by"] = .string(by) }
        var event: [String: JSONValue] = ["type": "step", "thread_id": .string(thread), "status": "completed", "resolved_interrupts": [.object(item)]]
        if let command { event["command_id"] = .string(command) }
        return .object(event)
    }

    func text(_ outputs: [ReviewDeskState.Output]) -> String {
        outputs.map { output in
            switch output {
            case .say(let line): line + "\n"
            case .prompt(let text): text
            case .send(let command): "<send \(command.id)>\n"
            case .finish: "<finish>\n"
            }
        }.joined()
    }

    func sent(_ outputs: [ReviewDeskState.Output]) -> [CommandMessage] {
        outputs.compactMap { if case .send(let command) = $0 { command } else { nil } }
    }

    @Test("a question answered elsewhere while on screen leaves it at once, naming who answered; the next one is asked")
    func closedOnScreen() {
        var desk = ReviewDeskState(expectedCompletions: nil, keepsTypedAhead: false)
        #expect(text(desk.event(question("t1", "i1"))).contains("== thread t1 asks"))
        #expect(text(desk.event(question("t2", "i2"))).isEmpty, "one question at a time")
        let out = text(desk.event(step("t1", closing: "i1", by: "bo")))
        #expect(out.contains("-- thread t1: this question was already answered elsewhere (by bo); not asking it any more"), "\(out)")
        #expect(out.contains("== thread t2 asks"), "\(out)")
        #expect(desk.current?.thread == "t2")
    }

    @Test("a waiting question closed elsewhere is never asked; a question whose close came first is not asked either")
    func closedWaiting() {
        var desk = ReviewDeskState(expectedCompletions: nil, keepsTypedAhead: false)
        _ = desk.event(question("t1", "i1"))
        _ = desk.event(question("t2", "i2"))
        #expect(text(desk.event(step("t2", closing: "i2", status: "expired", by: "timeout"))).isEmpty, "held back while t1 is on screen")
        _ = desk.event(step("t3", closing: "i3", by: "ana"))
        _ = desk.event(question("t3", "i3"))
        let out = text(desk.line("a"))
        #expect(out.contains("-- thread t2: a waiting question passed its deadline (by timeout); it will not be asked"), "\(out)")
        #expect(!out.contains("== thread"), "nothing left to ask: \(out)")
        #expect(desk.current == nil)
    }

    @Test("an answer refused because someone answered first says so and by whom, instead of looking sent")
    func answeredMeanwhile() throws {
        var desk = ReviewDeskState(expectedCompletions: nil, keepsTypedAhead: false)
        _ = desk.event(question("t1", "i1"))
        let command = try #require(sent(desk.line("a")).first)
        // The other answer's step comes first (same partition), then the refusal of ours.
        _ = desk.event(step("t1", closing: "i1", by: "python-bo", command: "other"))
        let refused: JSONValue = ["type": "rejected", "thread_id": "t1", "command_id": .string(command.id), "reason": "already_resolved", "message": "interrupt 'i1' of thread 't1' is already resolved"]
        let out = text(desk.event(refused))
        #expect(out.contains("-- thread t1: your answer (\(command.id)) was not applied: the question was already answered elsewhere (by python-bo)"), "\(out)")
    }

    @Test("our own answer closing the question, and an escalation republishing it, ask nothing twice")
    func noRepeats() throws {
        var desk = ReviewDeskState(expectedCompletions: 1, keepsTypedAhead: false)
        _ = desk.event(question("t1", "i1"))
        let reminder = text(desk.event(question("t1", "i1", escalation: "remind")))
        #expect(reminder.contains("(reminder: this question is still open)") && !reminder.contains("== thread"), "\(reminder)")
        let command = try #require(sent(desk.line("a")).first)
        #expect(text(desk.event(question("t1", "i1", escalation: "escalate"))).isEmpty, "answered here: not asked again")
        #expect(text(desk.event(step("t1", closing: "i1", by: "review", command: command.id))).isEmpty)
        let done = desk.event(["type": "completed", "thread_id": "t1", "values": ["outcome": "sent"]])
        #expect(done.last == .finish, "\(text(done))")
    }

    @Test("a refused invalid answer asks the question again; a line with no question open is refused on a terminal and kept when piped")
    func askAgainAndTypedAhead() throws {
        var desk = ReviewDeskState(expectedCompletions: nil, keepsTypedAhead: false)
        #expect(text(desk.line("a")).contains("no question is open"))
        _ = desk.event(question("t1", "i1"))
        let command = try #require(sent(desk.line("a")).first)
        let again = text(desk.event(["type": "rejected", "thread_id": "t1", "command_id": .string(command.id), "reason": "invalid_value", "message": "bad"]))
        #expect(again.contains("the question is still open; answer it again") && again.contains("== thread t1 asks"), "\(again)")

        var piped = ReviewDeskState(expectedCompletions: nil, keepsTypedAhead: true)
        #expect(piped.line("a").isEmpty)
        let out = piped.event(question("t1", "i1"))
        #expect(sent(out).count == 1, "the line typed ahead answers the question: \(text(out))")
    }
}
