import Foundation
import Interlude
import Testing

/// A chat state for the review tests: messages merged by id, executed calls appended.
struct ReviewChatState: GraphState, Equatable {
    var messages: [Message] = []
    var executed: [String] = []
    static let channels: [Channel<ReviewChatState>] = [.messages("messages", \.messages), .append("executed", \.executed)]
}

/// `ToolCallReview`: policies per tool, batched and per-call modes, and answers that break the
/// policy refused before any node runs, against every checkpointer.
@Suite("Tool-call review", .tags(.conformance), .timeLimit(.minutes(1)))
struct ToolCallReviewTests {
    static let emailSchema = ArgumentsSchema([
        "type": "object", "required": ["to", "subject"], "additionalProperties": false,
        "properties": ["to": ["type": "string", "pattern": "^[^@ ]+@[^@ ]+$"], "subject": ["type": "string", "maxLength": 40]],
    ])

    static let policies: [String: ToolReviewPolicy] = [
        "send_email": ToolReviewPolicy(
            allowedDecisions: [.approve, .edit, .reject], description: "Check the recipient", argumentsSchema: emailSchema,
            when: { call in call.arguments["to"]?.stringValue?.hasSuffix("@internal.example") != true }),
        "weather": ToolReviewPolicy(allowedDecisions: [.approve, .reject, .respond]),
    ]

    /// agent proposes send_email, weather and lookup (no policy) once, then answers; review;
    /// tools runs ``ToolCallReview/callsToRun(in:)``.
    static func harness(
        _ backend: Backend, _ counter: RunCounter, mode: ToolCallReview<ReviewChatState>.Mode = .batched, to recipient: String = "ann@example.com"
    ) async throws -> Harness<ReviewChatState> {
        let review = ToolCallReview(messages: \ReviewChatState.messages, policies: policies, mode: mode)
        return try await Harness<ReviewChatState>(backend) { graph in
            graph.addNode("agent") { state in
                counter.hit("agent")
                if state.messages.contains(where: { $0.role == .tool }) {
                    return .update(\.messages, [Message(id: "ai-final", role: .assistant, content: "done")])
                }
                let calls = [
                    ToolCall(id: "c1", name: "send_email", arguments: ["to": .string(recipient), "subject": "Hi"]),
                    ToolCall(id: "c2", name: "weather", arguments: ["city": "Oslo"]),
                    ToolCall(id: "c3", name: "lookup", arguments: ["q": "x"]),
                ]
                return .update(\.messages, [Message(id: "ai-1", role: .assistant, content: "", toolCalls: calls)])
            }
            graph.addNode("review", destinations: ["tools", "agent"]) { state, context in
                counter.hit("review")
                return try await review.node(tools: "tools", model: "agent")(state, context)
            }
            graph.addNode("tools") { state in
                counter.hit("tools")
                var messages: [Message] = []
                var executed: [String] = []
                for call in ToolCallReview<ReviewChatState>.callsToRun(in: state.messages) {
                    messages.append(Message(id: "tool-\(call.id)", role: .tool, content: "ran \(call.name)", toolCallID: call.id))
                    executed.append("\(call.name)(\(call.arguments))")
                }
                return .update(Update.set(\.messages, messages).set(\.executed, executed))
            }
            graph.addEdge(START, "agent")
            graph.addConditionalEdges("agent", destinations: ["review", END]) { state in
                state.messages.last?.toolCalls.isEmpty == false ? "review" : END
            }
            graph.addEdge("tools", "agent")
        }
    }

    @Test("batched: one interrupt for the reviewed calls; edit and respond rewrite the message and only approved or edited calls run", arguments: Backend.allCases)
    func batched(_ backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.harness(backend, counter)
        let thread = newThread()
        let paused = try await h.app.invoke(ReviewChatState(), thread: thread)
        try #require(paused.interrupts.count == 1)
        let request = try #require(ReviewRequest(json: paused.interrupts[0].value))
        #expect(request.actionRequests.map(\.name) == ["send_email", "weather"])
        #expect(request.actionRequests[0].description == "Check the recipient")
        #expect(request.config(for: "weather")?.allowedDecisions == [.approve, .reject, .respond])
        #expect(request.config(for: "send_email")?.argsSchema == Self.emailSchema)

        let answer = ReviewResponse(decisions: [.edit(arguments: ["to": "bob@example.com", "subject": "Hello"]), .respond(message: "Oslo: 6°C")])
        let done = try await h.app.resume(thread: thread, with: answer.json)
        #expect(done.interrupts.isEmpty)
        #expect(done.values.executed == [#"send_email({"subject":"Hello","to":"bob@example.com"})"#, #"lookup({"q":"x"})"#])
        let ai = try #require(done.values.messages.first { $0.id == "ai-1" })
        #expect(ai.toolCalls[0].arguments == ["to": "bob@example.com", "subject": "Hello"])
        #expect(done.values.messages.first { $0.toolCallID == "c2" }?.content == "Oslo: 6°C")
        #expect(done.values.messages.last?.content == "done")
        #expect(counter["tools"] == 1)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("an answer outside the policy is refused with the allowed set and nothing is applied", arguments: Backend.allCases)
    func refusals(_ backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.harness(backend, counter)
        let thread = newThread()
        _ = try await h.app.invoke(ReviewChatState(), thread: thread)
        let before = try await h.history(thread).count
        let refused: [(JSONValue, String)] = [
            (["decisions": [["type": "approve"]]], "has 1 decision"),
            (["decisions": [["type": "respond", "message": "sent"], ["type": "approve"]]], "allowed: approve, edit, reject"),
            (["decisions": [["type": "approve"], ["type": "edit", "args": ["city": "Rome"]]]], "allowed: approve, reject, respond"),
            (["decisions": [["type": "edit", "args": ["to": "not-an-address", "subject": "Hi"]], ["type": "approve"]]], "$.to"),
            (["decisions": [["type": "edit", "args": ["to": "a@b.c"]], ["type": "approve"]]], "missing required property 'subject'"),
            (["decisions": [["type": "maybe"], ["type": "approve"]]], "unknown decision type 'maybe'"),
            ("yes", "{\"decisions\": [...]}"),
        ]
        for (answer, expected) in refused {
            do {
                _ = try await h.app.resume(thread: thread, with: answer)
                Issue.record("\(answer) was accepted")
            } catch let error as GraphError {
                #expect(error.code == .invalidResumeValue, "\(answer): \(error)")
                #expect(error.message.contains(expected), "expected '\(expected)' in: \(error.message)")
            }
        }
        #expect(counter["review"] == 1, "no refused answer woke the review node")
        #expect(counter["tools"] == 0)
        #expect(try await h.history(thread).count == before)
        let state = try await h.state(thread)
        #expect(state.next == ["review"])
        #expect(state.tasks.flatMap(\.interrupts).count == 1)

        let done = try await h.app.resume(thread: thread, with: ReviewResponse(decisions: [.reject(message: "not now"), .approve]).json)
        #expect(done.values.executed == [#"weather({"city":"Oslo"})"#, #"lookup({"q":"x"})"#])
        #expect(done.values.messages.first { $0.toolCallID == "c1" }?.content == "rejected by the reviewer: not now")
    }

    @Test("per call: one interrupt per reviewed call in order; Agent Inbox answers are accepted", arguments: Backend.allCases)
    func perCall(_ backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.harness(backend, counter, mode: .perCall)
        let thread = newThread()
        let first = try await h.app.invoke(ReviewChatState(), thread: thread)
        let firstRequest = try #require(first.interrupts.first.flatMap { ReviewRequest(json: $0.value) })
        #expect(firstRequest.actionRequests.map(\.id) == ["c1"])
        #expect(AgentInbox.humanInterrupts(for: firstRequest)[0]["config"]?["allow_respond"] == false)

        let second = try await h.app.resume(thread: thread, with: [["type": "accept", "args": .null]] as JSONValue)
        let secondRequest = try #require(second.interrupts.first.flatMap { ReviewRequest(json: $0.value) })
        #expect(secondRequest.actionRequests.map(\.id) == ["c2"])
        await #expect(throws: GraphError.self) {
            _ = try await h.app.resume(thread: thread, with: ["type": "edit", "args": ["action": "weather", "args": ["city": "Rome"]]] as JSONValue)
        }
        let done = try await h.app.resume(thread: thread, with: [["type": "response", "args": "sunny"]] as JSONValue)
        #expect(done.values.executed == [#"send_email({"subject":"Hi","to":"ann@example.com"})"#, #"lookup({"q":"x"})"#])
        #expect(done.values.messages.first { $0.toolCallID == "c2" }?.content == "sunny")
    }

    @Test("a call the policy's `when` excludes runs without review; all calls refused go back to the model", arguments: Backend.allCases)
    func whenAndRouting(_ backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.harness(backend, counter, to: "ops@internal.example")
        let thread = newThread()
        let paused = try await h.app.invoke(ReviewChatState(), thread: thread)
        let request = try #require(paused.interrupts.first.flatMap { ReviewRequest(json: $0.value) })
        #expect(request.actionRequests.map(\.name) == ["weather"])
        let done = try await h.app.resume(thread: thread, with: ["type": "ignore", "args": .null] as JSONValue)
        #expect(done.values.executed == [#"send_email({"subject":"Hi","to":"ops@internal.example"})"#, #"lookup({"q":"x"})"#])
        #expect(done.values.messages.first { $0.toolCallID == "c2" }?.content == "rejected by the reviewer: \(AgentInbox.ignoredMessage)")

        // Every reviewed call rejected and no unreviewed call: straight back to the model.
        let only = try await Harness<ReviewChatState>(backend) { graph in
            let review = ToolCallReview(messages: \ReviewChatState.messages, policies: ["weather": .all()])
            graph.addNode("agent") { state in
                counter.hit("agent-only")
                if state.messages.isEmpty {
                    return .update(\.messages, [Message(id: "ai-1", role: .assistant, content: "", toolCalls: [ToolCall(id: "w", name: "weather", arguments: [:])])])
                }
                return .update(\.messages, [Message(id: "ai-2", role: .assistant, content: "ok")])
            }
            graph.addNode("review", destinations: ["tools", "agent"], context: review.node())
            graph.addNode("tools") { _ in counter.hit("tools-only"); return .update(Update()) }
            graph.addEdge(START, "agent")
            graph.addConditionalEdges("agent", destinations: ["review", END]) { state in state.messages.last?.toolCalls.isEmpty == false ? "review" : END }
            graph.addEdge("tools", "agent")
        }
        let other = newThread()
        _ = try await only.app.invoke(ReviewChatState(), thread: other)
        let finished = try await only.app.resume(thread: other, with: ReviewResponse(.reject(message: nil)).json)
        #expect(counter["tools-only"] == 0)
        #expect(counter["agent-only"] == 2)
        #expect(finished.values.messages.map(\.content) == ["", "rejected by the reviewer: no reason given", "ok"])
    }
}
