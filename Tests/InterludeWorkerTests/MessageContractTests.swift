import Foundation
import Interlude
import InterludeExamples
import InterludeWorker
import Testing

/// The message contracts in `schemas/kafka/`, checked against their examples and against the
/// messages the code really produces.
@Suite("Message contracts", .tags(.worker))
struct MessageContractTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let names = ["run", "resume", "update_state", "cancel", "interrupt", "step", "completed", "failed", "rejected", "dead_letter"]

    static func load(_ path: String) throws -> JSONValue {
        try JSONValue(json: Data(contentsOf: root.appendingPathComponent(path)))
    }

    static func validator(_ name: String) throws -> JSONSchemaValidator {
        JSONSchemaValidator(schema: try load("schemas/kafka/\(name).json"))
    }

    @Test("every schema has an example that validates against it", arguments: names)
    func example(name: String) throws {
        let errors = try Self.validator(name).errors(try Self.load("schemas/kafka/examples/\(name).json"))
        #expect(errors.isEmpty, "\(name) example: \(errors)")
    }

    @Test("the example of a question asked inside a subgraph validates and carries the subgraph's namespace")
    func subgraphInterruptExample() throws {
        let example = try Self.load("schemas/kafka/examples/interrupt-subgraph.json")
        let errors = try Self.validator("interrupt").errors(example)
        #expect(errors.isEmpty, "interrupt-subgraph example: \(errors)")
        #expect(example["namespace"]?.stringValue?.hasPrefix("review:") == true)
    }

    @Test("the review request and response schemas accept their examples and what the library builds")
    func reviewShapes() throws {
        for name in ["review_request", "review_response"] {
            let errors = try Self.validator(name).errors(try Self.load("schemas/kafka/examples/\(name).json"))
            #expect(errors.isEmpty, "\(name) example: \(errors)")
        }
        let event = try Self.load("schemas/kafka/examples/interrupt_tool_review.json")
        #expect(try Self.validator("interrupt").errors(event).isEmpty)
        #expect(try Self.validator("review_request").errors(event["value"] ?? .null).isEmpty)
        #expect(ReviewRequest(json: event["value"] ?? .null) != nil, "the example's value reads as a ReviewRequest")
        let calls = [
            ToolCall(id: "c1", name: "weather", arguments: ["city": "Lisbon"]),
            ToolCall(id: "c2", name: "calculator", arguments: ["a": 6, "op": "*", "b": 7]),
        ]
        let built = ToolReviewExample.review.request(for: calls).json
        #expect(try Self.validator("review_request").errors(built).isEmpty, "\(built)")
        let record = InterruptRecord(
            id: "i-1", threadID: "t", checkpointID: CheckpointID.next(), taskID: "task", node: "review", value: built,
            status: .pending, deadline: nil, onTimeout: nil, createdAt: Date())
        #expect(try Self.validator("interrupt").errors(EventMessages.review(record, graph: GraphIdentity(name: ToolReviewExample.name, version: ToolReviewExample.version), at: Date())).isEmpty)
        let answer = ReviewResponse(decisions: [.approve, .edit(arguments: ["city": "Oslo"]), .reject(message: "no"), .reject(message: nil), .respond(message: "6°C")])
        #expect(try Self.validator("review_response").errors(answer.json).isEmpty, "\(answer.json)")
    }

    @Test("the example commands decode, and decoded commands re-encode to valid messages", arguments: ["run", "resume", "update_state", "cancel"])
    func commandsRoundTrip(name: String) throws {
        let example = try Self.load("schemas/kafka/examples/\(name).json")
        let command = try CommandDecoder().decode(Array(example.jsonData)).get()
        #expect(command.type == name)
        let errors = try Self.validator(name).errors(command.json)
        #expect(errors.isEmpty, "\(name) re-encoded: \(errors)")
    }

    @Test("the events the worker builds validate against their schemas")
    func events() throws {
        let checkpoint = CheckpointID.next()
        let record = InterruptRecord(
            id: "i-1", threadID: "t", checkpointID: checkpoint, taskID: "task", node: "review", value: ["q": 1],
            status: .pending, deadline: Date(), onTimeout: .fail, createdAt: Date())
        var inSubgraph = record
        inSubgraph.namespace = "review:task-1"
        let now = Date()
        let subgraphReview = EventMessages.review(inSubgraph, graph: GraphIdentity(name: "g", version: 2), at: now)
        #expect(subgraphReview["namespace"] == "review:task-1")
        #expect(EventMessages.review(record, graph: GraphIdentity(name: "g", version: 2), at: now)["namespace"] == nil)
        let built: [(String, JSONValue)] = [
            ("interrupt", EventMessages.review(record, graph: GraphIdentity(name: "g", version: 2), at: now)),
            ("interrupt", subgraphReview),
            ("step", EventMessages.step(threadID: "t", checkpointID: checkpoint, step: 3, status: .interrupted, commandID: "c", at: now)),
            ("completed", EventMessages.completed(threadID: "t", checkpointID: checkpoint, values: ["x": 1], at: now)),
            ("failed", EventMessages.failed(threadID: "t", checkpointID: checkpoint, reason: "timeout", commandID: nil, at: now)),
            ("rejected", EventMessages.rejected(threadID: "t", commandID: "c", code: "already_resolved", message: "m", at: now)),
            ("dead_letter", EventMessages.deadLetter(original: [1, 2], topic: "interlude.runs", partition: 0, offset: 5, key: "t", reason: DeadLetterReason("undecodable", "x"), at: now)),
        ]
        for (name, message) in built {
            let errors = try Self.validator(name).errors(message)
            #expect(errors.isEmpty, "\(name): \(errors)")
        }
    }

    @Test("a message missing a required field fails the schema and is dead-lettered with the field named")
    func negative() throws {
        guard case .object(var run) = try Self.load("schemas/kafka/examples/run.json") else { return }
        run["thread_id"] = nil
        #expect(!(try Self.validator("run").errors(.object(run))).isEmpty)
        guard case .failure(let reason) = CommandDecoder().decode(Array(JSONValue.object(run).jsonData)) else {
            Issue.record("a run without thread_id decoded")
            return
        }
        #expect(reason.code == "invalid_envelope")
        #expect(reason.detail.contains("thread_id"))
    }

    @Test("bad bytes get precise dead-letter reasons")
    func deadLetterReasons() {
        func code(_ text: String, max: Int = 1 << 20) -> String? {
            if case .failure(let reason) = CommandDecoder(maxBytes: max).decode(Array(text.utf8)) { return reason.code }
            return nil
        }
        #expect(code("not json") == "undecodable")
        #expect(code("[1]") == "undecodable")
        func detail(_ text: String) -> String? {
            if case .failure(let reason) = CommandDecoder().decode(Array(text.utf8)) { return reason.detail }
            return nil
        }
        #expect(detail(#"{"type":"run","input":{"n":1e999}}"#) == "the message is not valid JSON: the number 1e999 is beyond the range of a 64-bit float at byte 27; send a JSON object in UTF-8")
        #expect(detail("[1]") == "the message is JSON but not an object (it is an array); send a JSON object")
        let run = #"{"type":"run","schema_version":1,"id":"a","thread_id":"t","created_at":"2026-01-01T00:00:00Z","graph":"g","config":"#
        for (config, expected) in [
            ("-1", "field 'config' must be an object, not a number"),
            (#"{"recursion_limit":-1}"#, "field 'config.recursion_limit' must be a whole number from 1 to 2147483647, not -1; leave it out for the worker's default"),
            (#"{"recursion_limit":0}"#, "field 'config.recursion_limit' must be a whole number from 1 to 2147483647, not 0; leave it out for the worker's default"),
            (#"{"recursion_limit":1e20}"#, "field 'config.recursion_limit' must be a whole number from 1 to 2147483647, not 1e+20; leave it out for the worker's default"),
            (#"{"recursion_limit":2.5}"#, "field 'config.recursion_limit' must be a whole number from 1 to 2147483647, not 2.5; leave it out for the worker's default"),
            (#"{"recursion_limit":"9"}"#, #"field 'config.recursion_limit' must be a whole number from 1 to 2147483647, not "9"; leave it out for the worker's default"#),
            (#"{"metadata":[1]}"#, "field 'config.metadata' must be an object, not an array"),
            (#"{"interrupt_before":"review"}"#, #"field 'config.interrupt_before' must be a list of node names (strings), like ["review"], or ["*"] for every node"#),
            (#"{"interrupt_after":["review",2]}"#, #"field 'config.interrupt_after' must be a list of node names (strings), like ["review"], or ["*"] for every node"#),
        ] {
            #expect(detail(run + config + "}") == expected, "config \(config)")
        }
        guard case .success(let decoded) = CommandDecoder().decode(Array((run + #"{"recursion_limit":7,"metadata":{"user":"ana"},"interrupt_after":["review"],"later":true}}"#).utf8)),
            case .run(_, _, let config, _) = decoded.body
        else {
            Issue.record("a valid config was refused")
            return
        }
        #expect(config == CommandConfig(recursionLimit: 7, metadata: ["user": "ana"], interruptBefore: nil, interruptAfter: ["review"]))
        #expect(code(#"{"type":"run","schema_version":2,"id":"a","thread_id":"t","created_at":"2026-01-01T00:00:00Z","graph":"g"}"#) == "unsupported_schema_version")
        #expect(code(#"{"type":"explode","schema_version":1,"id":"a","thread_id":"t","created_at":"2026-01-01T00:00:00Z"}"#) == "unknown_type")
        #expect(code(#"{"type":"resume","schema_version":1,"id":"a","thread_id":"t","created_at":"2026-01-01T00:00:00Z"}"#) == "invalid_envelope")
        #expect(code(String(repeating: " ", count: 100), max: 10) == "oversized")
    }
}
