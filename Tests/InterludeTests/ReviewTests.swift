import Foundation
import Interlude
import Testing

@Suite("Review: argument schemas, decisions, Agent Inbox")
struct ReviewTests {
    static let schema = ArgumentsSchema([
        "type": "object", "required": ["sku", "lines"], "additionalProperties": false,
        "properties": [
            "sku": ["type": "string", "minLength": 3, "maxLength": 8],
            "mode": ["enum": ["fast", "slow"]],
            "lines": [
                "type": "array", "minItems": 1, "maxItems": 2,
                "items": ["type": "object", "required": ["qty"], "properties": ["qty": ["type": "integer", "minimum": 1, "maximum": 9]]],
            ],
        ],
    ])

    @Test("a conforming value has no violations")
    func conforming() {
        #expect(Self.schema.violations(of: ["sku": "abc", "mode": "fast", "lines": [["qty": 2]]]).isEmpty)
    }

    static let cases: [(JSONValue, String)] = [
        (["sku": "abc"], "$: missing required property 'lines'"),
        (["sku": 5, "lines": [["qty": 1]]], "$.sku: expected string, got 5"),
        (["sku": "ab", "lines": [["qty": 1]]], "$.sku: is 2 characters long, shorter than the minimum 3"),
        (["sku": "abcdefghij", "lines": [["qty": 1]]], "$.sku: is 10 characters long, longer than the maximum 8"),
        (["sku": "abc", "mode": "warp", "lines": [["qty": 1]]], #"$.mode: "warp" is not one of "fast", "slow""#),
        (["sku": "abc", "lines": []], "$.lines: has 0 items, fewer than the minimum 1"),
        (["sku": "abc", "lines": [["qty": 1], ["qty": 1], ["qty": 1]]], "$.lines: has 3 items, more than the maximum 2"),
        (["sku": "abc", "lines": [["qty": 1], ["qty": 0]]], "$.lines[1].qty: 0 is below the minimum 1"),
        (["sku": "abc", "lines": [["qty": 10]]], "$.lines[0].qty: 10 is above the maximum 9"),
        (["sku": "abc", "lines": [["qty": 1.5]]], "$.lines[0].qty: expected integer, got 1.5"),
        (["sku": "abc", "lines": [["qty": 1]], "extra": true], "$: unexpected property 'extra'; allowed: lines, mode, sku"),
        ("text", "$: expected object, got \"text\""),
    ]

    @Test("each violation names its path and the rule", arguments: cases)
    func violations(value: JSONValue, expected: String) {
        #expect(Self.schema.violations(of: value) == [expected])
    }

    static let request = ReviewRequest(
        actionRequests: [ActionRequest(id: "c1", name: "order", args: ["sku": "abc", "lines": [["qty": 1]]], description: "Order stock?")],
        reviewConfigs: [ReviewConfig(actionName: "order", allowedDecisions: [.approve, .edit], argsSchema: schema)])

    @Test("a request round-trips through its JSON with the tool_review marker; other values are not requests")
    func requestJSON() throws {
        #expect(Self.request.json["type"] == "tool_review")
        #expect(ReviewRequest(json: Self.request.json) == Self.request)
        #expect(ReviewRequest(json: ["type": "tool_review"]) == nil)
        #expect(ReviewRequest(json: ["question": "send it?"]) == nil)
    }

    @Test("answers in every accepted form give the same decisions")
    func answerForms() throws {
        let edited: JSONValue = ["sku": "xyz", "lines": [["qty": 3]]]
        let forms: [JSONValue] = [
            ["decisions": [["type": "edit", "args": edited]]],
            [["type": "edit", "args": edited]],
            ["type": "edit", "args": edited],
            ["decisions": [["type": "edit", "edited_action": ["name": "order", "args": edited]]]],
            [["type": "edit", "args": ["action": "order", "args": edited]]],
        ]
        for form in forms {
            #expect(try Self.request.response(from: form).decisions == [.edit(arguments: edited)], "\(form)")
        }
        #expect(try Self.request.response(from: [["type": "accept", "args": .null]]).decisions == [.approve])
    }

    @Test("arguments that happen to be {action, args} are the tool's own unless action names the tool (Agent Inbox's form)")
    func inboxEditIsNotGuessed() throws {
        let request = ReviewRequest(
            actionRequests: [ActionRequest(id: "c1", name: "run_job", args: ["action": "build", "args": [:]])],
            reviewConfigs: [ReviewConfig(actionName: "run_job", allowedDecisions: [.edit])])
        let own: JSONValue = ["action": "deploy", "args": ["env": "prod"]]
        #expect(try request.response(from: ["type": "edit", "args": own]).decisions == [.edit(arguments: own)])
        #expect(try request.response(from: ["type": "edit", "args": ["action": "run_job", "args": own]]).decisions == [.edit(arguments: own)])
    }

    @Test("edits that rename the tool, break the schema or are not allowed are refused with the allowed set")
    func refusedAnswers() {
        func message(_ answer: JSONValue) -> String {
            do {
                _ = try Self.request.response(from: answer)
                return "accepted"
            } catch let error as GraphError {
                return error.code == .invalidResumeValue ? error.message : "wrong code \(error.code)"
            } catch {
                return "\(error)"
            }
        }
        #expect(message(["type": "edit", "edited_action": ["name": "delete", "args": [:]]]).contains("but not the tool"))
        #expect(message(["type": "edit", "args": ["sku": "abc", "lines": []]]).contains("$.lines: has 0 items"))
        #expect(message(["type": "reject", "message": "no"]).contains("allowed: approve, edit"))
        #expect(message(["type": "ignore", "args": .null]).contains("allowed: approve, edit"))
        #expect(message(["decisions": []]).contains("has 0 decisions"))
    }

    @Test("the Agent Inbox rendering has one HumanInterrupt per call with the allowed decisions as flags")
    func agentInbox() {
        let rendered = AgentInbox.humanInterrupts(for: Self.request)
        #expect(rendered == [[
            "action_request": ["action": "order", "args": ["sku": "abc", "lines": [["qty": 1]]]],
            "config": ["allow_accept": true, "allow_edit": true, "allow_respond": false, "allow_ignore": false],
            "description": "Order stock?",
        ]])
        #expect(AgentInbox.humanResponse(for: .respond(message: "done"), action: "order") == ["type": "response", "args": "done"])
    }
}
