import Foundation
import Interlude
import Testing

@testable import InterludeConsole

@Suite("Review console pages")
struct ConsolePageTests {
    @Test("user data is escaped for HTML and for inline script")
    func escaping() {
        #expect(HTML.escape("<script>alert('x') & \"y\"</script>") == "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
        #expect(!Pages.jsString("</script><b>").contains("<"))
        #expect(HTML.threadLink("a b/&c") == "/thread?id=a%20b%2F%26c")
        #expect(HTML.form("id=a%20b%2F%26c&x=1+2&empty=") == ["id": "a b/&c", "x": "1 2", "empty": ""])
    }

    @Test("the approval, tool-call and draft shapes get buttons; anything else only the JSON box")
    func shapes() throws {
        let approval: JSONValue = ["prompt": "Send?", "recipient": "ana@example.com", "draft": "Hello"]
        #expect(QuestionShape(approval) == .approval)
        #expect(try QuestionShape(approval).answer(decision: "approve", form: [:]) == ["approved": true])
        #expect(try QuestionShape(approval).answer(decision: "reject", form: ["comment": " no "]) == ["approved": false, "comment": "no"])
        let request = ReviewRequest(
            actionRequests: [ActionRequest(id: "c1", name: "calculator", args: ["a": 6], description: "Run?")],
            reviewConfigs: [ReviewConfig(actionName: "calculator", allowedDecisions: [.approve, .edit, .reject])])
        let tool = request.json
        #expect(QuestionShape(tool) == .toolReview(request))
        #expect(try QuestionShape(tool).answer(decision: "approve", form: [:]) == ["decisions": [["type": "approve"]]])
        #expect(try QuestionShape(tool).answer(decision: "edit", form: ["arguments": #"{"a": 7}"#]) == ["decisions": [["type": "edit", "args": ["a": 7]]]])
        #expect(try QuestionShape(tool).answer(decision: "reject", form: ["feedback": "no"]) == ["decisions": [["type": "reject", "message": "no"]]])
        let notAllowed = #expect(throws: AnswerError.self) { try QuestionShape(tool).answer(decision: "respond", form: ["response": "42"]) }
        #expect(notAllowed?.description.contains("allowed: approve, edit, reject") == true)
        var twoCalls = request
        twoCalls.actionRequests.append(ActionRequest(id: "c2", name: "calculator", args: ["a": 1]))
        #expect(QuestionShape(twoCalls.json) == .json)
        let draft: JSONValue = ["prompt": "Edit", "draft": "text"]
        #expect(QuestionShape(draft) == .draftEdit(draft: "text"))
        #expect(try QuestionShape(draft).answer(decision: "keep", form: [:]) == [:])
        #expect(QuestionShape("How old are you?") == .json)
        #expect(try QuestionShape("How old are you?").answer(decision: "json", form: ["json": "19"]) == 19)
    }

    @Test("a decision the shape does not offer, empty JSON and invalid JSON are refused with what to do")
    func refusals() {
        #expect(throws: AnswerError.self) { try QuestionShape("q").answer(decision: "approve", form: [:]) }
        let empty = #expect(throws: AnswerError.self) { try QuestionShape("q").answer(decision: "json", form: ["json": "  "]) }
        #expect(empty?.description.contains("is empty") == true)
        let invalid = #expect(throws: AnswerError.self) { try QuestionShape("q").answer(decision: "json", form: ["json": "{nope"]) }
        #expect(invalid?.description.contains("not valid JSON: expected a member name (a string in double quotes) at byte 1; correct it") == true, "\(String(describing: invalid))")
    }

    @Test("state values are rebuilt from full blobs and append deltas; internal channels are left out")
    func stateValues() throws {
        let v1 = CheckpointID(high: 1, low: 1), v2 = CheckpointID(high: 2, low: 2), v3 = CheckpointID(high: 3, low: 3)
        let checkpoint = Checkpoint(
            id: CheckpointID(high: 4, low: 4), parentID: nil, step: 1, source: .loop, createdAt: Date(), graph: GraphIdentity(name: "g", version: 1),
            channelVersions: ["log": v3, "draft": v1, "branch:to:x": v1, "__start__": v1], versionsSeen: [:])
        let blobs = [
            ChannelBlob(channel: "log", version: v2, encoding: .full, depth: 0, data: Data(#"["a"]"#.utf8)),
            ChannelBlob(channel: "log", version: v3, encoding: .appendDelta(base: v2), depth: 1, data: Data(#"["b","c"]"#.utf8)),
            ChannelBlob(channel: "draft", version: v1, encoding: .full, depth: 0, data: Data(#""hi""#.utf8)),
        ]
        let values = StateValues.values(of: CheckpointTuple(checkpoint: checkpoint, blobs: blobs, pendingWrites: []))
        #expect(values == ["log": ["a", "b", "c"], "draft": "hi"])
    }

    @Test("refusals of the answer end the live follow in words; other commands' refusals do not")
    func liveWords() {
        let ours = Data(#"{"type":"rejected","command_id":"c1","reason":"already_resolved","message":"m"}"#.utf8)
        #expect(LiveEvents.line(for: ours, command: "c1")?.outcome == "refused")
        #expect(LiveEvents.line(for: ours, command: "c1")?.text.contains("already answered") == true)
        #expect(LiveEvents.line(for: ours, command: "c2")?.outcome == nil)
        #expect(LiveEvents.line(for: Data(#"{"type":"completed"}"#.utf8), command: nil)?.outcome == "completed")
        #expect(LiveEvents.frame(.init(text: "done", outcome: "completed")).hasPrefix("event: done\n"))
    }
}
