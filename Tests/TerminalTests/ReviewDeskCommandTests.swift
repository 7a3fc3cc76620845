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
    }
}
