import Foundation
import Interlude
import InterludeWorker
import Testing

@testable import interlude

/// What a line typed at `interlude review` sends, without a terminal or a cluster.
@Suite("Review desk answers")
struct ReviewDeskCommandTests {
    let review: JSONValue = ["thread_id": "t1", "interrupt_id": "i1", "graph": "approval", "value": ["prompt": "Send?"]]

    /// The answer a line resumes interrupt `i1` with, or the desk's explanation.
    func answer(_ line: String) throws -> JSONValue {
        let command = try AnswerPresets.command(for: line, review: review).get()
        #expect(command.threadID == "t1")
        guard case .resume(nil, let values?, nil) = command.body else {
            Issue.record("not a resume by interrupt id: \(command.body)")
            return .null
        }
        return values["i1"] ?? .null
    }

    @Test("On the approval graph, a reason after r (or a comment after a) becomes the answer's comment")
    func reasons() throws {
        #expect(try answer("r too long") == ["approved": false, "comment": "too long"])
        #expect(try answer("reject  not now ") == ["approved": false, "comment": "not now"])
        #expect(try answer("a ship it") == ["approved": true, "comment": "ship it"])
    }

    @Test("A bare a or r keeps the default comments, a JSON answer goes as typed, and anything else is explained")
    func bareAndJSON() throws {
        #expect(try answer("r") == ["approved": false, "comment": "rejected in review"])
        #expect(try answer("A") == ["approved": true, "comment": "approved in review"])
        #expect(try answer(#"{"approved": false}"#) == ["approved": false])
        guard case .failure(let error) = AnswerPresets.command(for: "maybe later", review: review) else {
            Issue.record("an unknown word was sent")
            return
        }
        #expect("\(error)".contains("r [reason] = reject"))
        guard case .failure(let json) = AnswerPresets.command(for: #"{"approved": tru"#, review: review) else {
            Issue.record("invalid JSON was sent")
            return
        }
        #expect("\(json)".contains("not valid JSON (not a JSON value (expected null, true, false, a number, a string, an array or an object) at byte 13)"), "\(json)")
        #expect("\(json)".contains("r [reason] = reject"))
    }

    @Test("interlude review --actor sends the actor and its roles with every answer and edit; without it, none")
    func actor() throws {
        let command = try ReviewCommand.parse(["--actor", "zoe", "--role", "finance"])
        let zoe = try #require(command.who.reviewActor)
        #expect(zoe == ReviewActor("zoe", roles: ["finance"]))
        #expect(try AnswerPresets.command(for: "a", review: review, actor: zoe).get().actor == zoe)
        #expect(try AnswerPresets.command(for: "e shorter", review: review, actor: zoe).get().actor == zoe)
        #expect(try AnswerPresets.command(for: #"{"approved": true}"#, review: review, actor: zoe).get().actor == zoe)
        #expect(try AnswerPresets.command(for: "a", review: review).get().actor == nil)
        #expect(try ReviewCommand.parse([]).who.reviewActor == nil)
        #expect(throws: (any Error).self) { try ReviewCommand.parse(["--role", "finance"]) }
        #expect(throws: (any Error).self) { try ReviewCommand.parse(["--actor", ""]) }
    }

    @Test("The desk's state sends its actor with the answer typed for the question on screen")
    func deskActor() throws {
        var desk = ReviewDeskState(expectedCompletions: nil, keepsTypedAhead: false, actor: ReviewActor("zoe"))
        _ = desk.event(["type": "interrupt", "thread_id": "t1", "interrupt_id": "i1", "graph": "approval", "value": ["prompt": "Send?"]])
        let sent = desk.line("r too long").compactMap { output -> CommandMessage? in
            if case .send(let command) = output { return command }
            return nil
        }
        #expect(sent.count == 1 && sent.first?.actor == ReviewActor("zoe"), "\(sent)")
    }
}
