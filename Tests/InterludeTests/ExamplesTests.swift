import Foundation
import Interlude
import InterludeExamples
import Testing

extension Tag {
    @Tag static var examples: Self
}

/// A fresh thread id per test.
private func exampleThread() -> String { "ex-" + UUID().uuidString.lowercased() }

/// Every example graph driven through invoke and resume with an in-memory checkpointer.
@Suite("Examples", .tags(.examples))
struct ExamplesTests {}

extension ExamplesTests {
    @Suite("Approval example")
    struct ApprovalExampleTests {
        @Test("An approved email is sent after the pause, and not before")
        func approve() async throws {
            let app = try ApprovalExample.makeGraph()
            let thread = exampleThread()
            let paused = try await app.invoke(ApprovalState(recipient: "ana@example.com", subject: "Q3 report"), thread: thread)
            #expect(paused.isInterrupted)
            #expect(paused.next == ["review"])
            let question = try paused.interrupts[0].value(as: ApprovalQuestion.self)
            #expect(question.recipient == "ana@example.com")
            #expect(question.draft.contains("Q3 report"))
            #expect(paused.values.outcome == "")
            #expect(!paused.values.log.contains { $0.hasPrefix("send") })

            let done = try await app.resume(thread: thread, with: ApprovalAnswer.approve)
            #expect(done.status == .completed)
            #expect(done.values.outcome == "sent")
            #expect(done.values.log == ["draft: wrote \(question.draft.count) characters", "review: approved", "send: sent to ana@example.com"])
        }

        @Test("A rejected email ends the run without running send")
        func reject() async throws {
            let app = try ApprovalExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(ApprovalState(recipient: "bo@example.com", subject: "prices"), thread: thread)
            let done = try await app.resume(thread: thread, with: ApprovalAnswer.reject("tone is too harsh"))
            #expect(done.status == .completed)
            #expect(done.next.isEmpty)
            #expect(done.values.outcome == "rejected")
            #expect(done.values.comment == "tone is too harsh")
            #expect(!done.values.log.contains { $0.hasPrefix("send") })
        }

        @Test("The graph is registered under its name and version")
        func identity() throws {
            let app = try ApprovalExample.makeGraph()
            #expect(app.identity.name == "approval")
            #expect(app.identity.version == 1)
        }
    }

    @Suite("Edit-state example")
    struct EditStateExampleTests {
        @Test("An interrupt answer carrying new text replaces the draft before publishing")
        func editByAnswer() async throws {
            let app = try EditStateExample.makeGraph()
            let thread = exampleThread()
            let paused = try await app.invoke(EditState(topic: "release 1.0"), thread: thread)
            let question = try paused.interrupts[0].value(as: EditQuestion.self)
            #expect(question.draft == "Some news about release 1.0.")
            let done = try await app.resume(thread: thread, with: EditAnswer(draft: "Release 1.0 is out!"))
            #expect(done.values.draft == "Release 1.0 is out!")
            #expect(done.values.edited)
            #expect(done.values.published)
            #expect(done.values.log.last == "publish: published 19 characters")
        }

        @Test("Keeping the draft publishes it unchanged")
        func keep() async throws {
            let app = try EditStateExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(EditState(topic: "pricing"), thread: thread)
            let done = try await app.resume(thread: thread, with: EditAnswer.keep)
            #expect(done.values.draft == "Some news about pricing.")
            #expect(!done.values.edited)
            #expect(done.values.published)
        }

        @Test("updateState as the paused node edits the draft; continuing publishes it without asking again")
        func editByUpdateState() async throws {
            let app = try EditStateExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(EditState(topic: "release 1.0"), thread: thread)
            try await app.updateState(thread: thread, values: Update.set(\.draft, "Edited from outside").set(\.edited, true), asNode: "edit")
            let state = try #require(try await app.getState(thread: thread))
            #expect(state.next == ["publish"])
            #expect(state.values.draft == "Edited from outside")
            #expect(state.interrupts.isEmpty)
            let done = try await app.invoke(thread: thread)
            #expect(done.status == .completed)
            #expect(done.values.published)
            #expect(done.values.draft == "Edited from outside")
            // The edit node never finished: its update came from outside.
            #expect(done.values.log == ["draft: wrote a draft", "publish: published 19 characters"])
        }
    }

    @Suite("Tool-review example")
    struct ToolReviewExampleTests {
        @Test("The scripted model proposes a weather call and an approved call runs as proposed")
        func approve() async throws {
            let app = try ToolReviewExample.makeGraph()
            let thread = exampleThread()
            let paused = try await app.invoke(ToolReviewState(question: "What is the weather in Lisbon?"), thread: thread)
            let request = try #require(ReviewRequest(json: paused.interrupts[0].value))
            #expect(request.actionRequests.map(\.name) == ["weather"])
            #expect(request.actionRequests[0].args == ["city": "Lisbon"])
            #expect(request.config(for: "weather")?.allowedDecisions == [.approve, .edit, .reject, .respond])
            #expect(paused.values.executed.isEmpty)
            let done = try await app.resume(thread: thread, with: ReviewResponse(.approve).json)
            #expect(done.status == .completed)
            #expect(done.values.executed == [#"weather({"city":"Lisbon"})"#])
            #expect(done.values.messages.map(\.role) == [.user, .assistant, .tool, .assistant])
            #expect(done.values.messages.last?.content == "Here is what I found: Lisbon: 24°C, sunny")
        }

        @Test("Edited arguments replace the proposed call in place and the tool runs with them")
        func edit() async throws {
            let app = try ToolReviewExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(ToolReviewState(question: "weather in paris?"), thread: thread)
            let done = try await app.resume(thread: thread, with: ReviewResponse(.edit(arguments: ["city": "Oslo"])).json)
            #expect(done.values.executed == [#"weather({"city":"Oslo"})"#])
            #expect(done.values.messages.count == 4)
            #expect(done.values.messages[1].toolCalls.first?.arguments == ["city": "Oslo"])
            #expect(done.values.messages[2].content == "Oslo: 6°C, snow showers")
        }

        @Test("A rejected call never runs and the model gets the feedback")
        func reject() async throws {
            let app = try ToolReviewExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(ToolReviewState(question: "what is 6 * 7"), thread: thread)
            let done = try await app.resume(thread: thread, with: ReviewResponse(.reject(message: "do it in your head")).json)
            #expect(done.status == .completed)
            #expect(done.values.executed.isEmpty)
            #expect(done.values.messages[2].role == .tool)
            #expect(done.values.messages[2].content == "rejected by the reviewer: do it in your head")
            #expect(done.values.messages.last?.content.hasPrefix("Understood, I did not run the tool") == true)
        }

        @Test("A response stands in for the tool: its text is the tool's result and the tool never runs")
        func respond() async throws {
            let app = try ToolReviewExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(ToolReviewState(question: "weather in Tokyo"), thread: thread)
            let done = try await app.resume(thread: thread, with: ReviewResponse(.respond(message: "Tokyo: typhoon warning")).json)
            #expect(done.values.executed.isEmpty)
            #expect(done.values.messages[2].role == .tool)
            #expect(done.values.messages.last?.content == "Here is what I found: Tokyo: typhoon warning")
        }

        @Test("Edited arguments that break the tool's schema are refused and the review stays open")
        func editRefused() async throws {
            let app = try ToolReviewExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(ToolReviewState(question: "what is 6 * 7"), thread: thread)
            let error = await #expect(throws: GraphError.self) {
                _ = try await app.resume(thread: thread, with: ReviewResponse(.edit(arguments: ["a": 6, "op": "%", "b": 7])).json)
            }
            #expect(error?.code == .invalidResumeValue)
            #expect(error?.message.contains("$.op") == true)
            let state = try #require(try await app.getState(thread: thread))
            #expect(state.next == ["review"])
            let done = try await app.resume(thread: thread, with: ReviewResponse(.edit(arguments: ["a": 6, "op": "+", "b": 7])).json)
            #expect(done.values.messages[2].content == "6 + 7 = 13")
        }

        @Test("The calculator tool computes the approved expression")
        func calculator() async throws {
            let app = try ToolReviewExample.makeGraph()
            let thread = exampleThread()
            let paused = try await app.invoke(ToolReviewState(question: "what is 6 * 7"), thread: thread)
            #expect(ReviewRequest(json: paused.interrupts[0].value)?.actionRequests.first?.name == "calculator")
            let done = try await app.resume(thread: thread, with: ReviewResponse(.approve).json)
            #expect(done.values.messages[2].content == "6 * 7 = 42")
        }

        @Test("A question that needs no tool finishes without a pause")
        func noTool() async throws {
            let app = try ToolReviewExample.makeGraph()
            let done = try await app.invoke(ToolReviewState(question: "hello"), thread: exampleThread())
            #expect(done.status == .completed)
            #expect(done.interrupts.isEmpty)
            #expect(done.values.messages.count == 2)
        }

        @Test("With a breakpoint before tools, an edit by updateState as agent makes tools run the edited call")
        func breakpointEdit() async throws {
            let app = try ToolReviewExample.makeBreakpointGraph()
            let thread = exampleThread()
            let paused = try await app.invoke(ToolReviewState(question: "weather in Tokyo"), thread: thread)
            #expect(paused.isInterrupted)
            #expect(paused.interrupts.isEmpty)
            #expect(paused.next == ["tools"])
            var proposal = try #require(paused.values.messages.last)
            proposal.toolCalls[0].arguments = ["city": "London"]
            try await app.updateState(thread: thread, values: .append(\.messages, proposal), asNode: "agent")
            let done = try await app.invoke(thread: thread)
            #expect(done.status == .completed)
            #expect(done.values.executed == [#"weather({"city":"London"})"#])
            #expect(done.values.messages.last?.content == "Here is what I found: London: 14°C, light rain")
        }

        @Test("Local tools answer bad calls with an error text")
        func toolErrors() {
            #expect(LocalTools.run(ToolCall(id: "1", name: "weather", arguments: ["city": "Atlantis"])).hasPrefix("error: no weather data"))
            #expect(LocalTools.run(ToolCall(id: "2", name: "calculator", arguments: ["a": 1, "op": "/", "b": 0])) == "error: division by zero")
            #expect(LocalTools.run(ToolCall(id: "3", name: "shell", arguments: [:])).hasPrefix("error: unknown tool"))
        }
    }

    @Suite("Validated-input example")
    struct ValidatedInputExampleTests {
        @Test("Invalid answers are re-asked with an explanation until a valid age comes")
        func loop() async throws {
            let app = try ValidatedInputExample.makeGraph()
            let thread = exampleThread()
            let first = try await app.invoke(ValidatedInputState(), thread: thread)
            #expect(try first.interrupts[0].value(as: AgeQuestion.self).attempt == 1)

            let second = try await app.resume(thread: thread, with: "13")
            let q2 = try second.interrupts[0].value(as: AgeQuestion.self)
            #expect(q2.attempt == 2)
            #expect(q2.prompt.hasPrefix("13 is under 18"))
            #expect(second.interrupts[0].id != first.interrupts[0].id)

            let third = try await app.resume(thread: thread, with: "fifteen")
            let q3 = try third.interrupts[0].value(as: AgeQuestion.self)
            #expect(q3.attempt == 3)
            #expect(q3.prompt.hasPrefix("'fifteen' is not a whole number"))

            let done = try await app.resume(thread: thread, with: "19")
            #expect(done.status == .completed)
            #expect(done.values.age == 19)
            #expect(done.values.attempts == 3)
            #expect(done.values.greeting == "Welcome! You are 19.")
        }

        @Test("The validator accepts 18 to 149 and explains every refusal")
        func validator() {
            #expect(ValidatedInputExample.validate(" 18 ") == .success(18))
            #expect(ValidatedInputExample.validate("17") == .failure(.init(reason: "17 is under 18")))
            #expect(ValidatedInputExample.validate("") == .failure(.init(reason: "'' is not a whole number")))
            #expect(ValidatedInputExample.validate("200") == .failure(.init(reason: "200 is not a plausible age")))
        }
    }

    @Suite("Multi-question example")
    struct MultiQuestionExampleTests {
        @Test("One node asks for a name then an email, writing nothing until both are answered")
        func twoQuestions() async throws {
            let app = try MultiQuestionExample.makeGraph()
            let thread = exampleThread()
            let first = try await app.invoke(SignupState(), thread: thread)
            #expect(try first.interrupts[0].value(as: FormQuestion.self).field == "name")

            let second = try await app.resume(thread: thread, with: "Ada")
            let q2 = try second.interrupts[0].value(as: FormQuestion.self)
            #expect(q2.field == "email")
            #expect(q2.prompt == "What is your email, Ada?")
            #expect(second.interrupts[0].id != first.interrupts[0].id)
            #expect(second.values.name == "")
            #expect(second.checkpointID == first.checkpointID, "the second question must not create a checkpoint")
            let paused = try #require(try await app.getState(thread: thread))
            #expect(paused.next == ["collect"])

            let done = try await app.resume(thread: thread, with: "ada@example.com")
            #expect(done.status == .completed)
            #expect(done.values == {
                var s = SignupState()
                s.name = "Ada"
                s.email = "ada@example.com"
                s.confirmation = "Signed up Ada <ada@example.com>"
                return s
            }())
        }
    }

    @Suite("Conditional-interrupt example")
    struct ConditionalInterruptExampleTests {
        @Test("A confident classification never pauses")
        func confident() async throws {
            let app = try ConditionalInterruptExample.makeGraph()
            let done = try await app.invoke(TicketState(text: "I want a refund"), thread: exampleThread())
            #expect(done.status == .completed)
            #expect(done.interrupts.isEmpty)
            #expect(done.values.confidence == 0.92)
            #expect(done.values.outcome == "queue:billing")
            #expect(!done.values.reviewed)
        }

        @Test("A low-confidence classification pauses and proceeds with the human's label")
        func unsureProceed() async throws {
            let app = try ConditionalInterruptExample.makeGraph()
            let thread = exampleThread()
            let paused = try await app.invoke(TicketState(text: "my printer is on fire"), thread: thread)
            let question = try paused.interrupts[0].value(as: LowConfidenceQuestion.self)
            #expect(question.confidence == 0.5)
            #expect(question.label == "general")
            let done = try await app.resume(thread: thread, with: ProceedAnswer(proceed: true, label: "hardware"))
            #expect(done.values.outcome == "queue:hardware")
            #expect(done.values.label == "hardware")
            #expect(done.values.reviewed)
        }

        @Test("A low-confidence classification the human declines is escalated")
        func unsureEscalate() async throws {
            let app = try ConditionalInterruptExample.makeGraph()
            let thread = exampleThread()
            _ = try await app.invoke(TicketState(text: "something odd"), thread: thread)
            let done = try await app.resume(thread: thread, with: ProceedAnswer(proceed: false))
            #expect(done.values.outcome == "escalated")
            #expect(done.values.label == "general")
        }
    }

    @Suite("Timeout-default example")
    struct TimeoutDefaultExampleTests {
        @Test("When the deadline passes, expire continues with the default answer and a late resume is refused")
        func expires() async throws {
            let clock = ManualClock()
            let checkpointer = InMemoryCheckpointer()
            let app = try TimeoutDefaultExample.makeGraph(checkpointer: checkpointer, clock: clock)
            let thread = exampleThread()
            let start = clock.now
            let paused = try await app.invoke(MaintenanceState(plan: "rotate certificates"), thread: thread)
            #expect(paused.interrupts[0].deadline == start.addingTimeInterval(900))
            #expect(try await app.deadlines(thread: thread).count == 1)

            clock.advance(by: 899)
            #expect(try await app.expire(thread: thread) == nil)

            clock.advance(by: 1)
            let done = try #require(try await app.expire(thread: thread))
            #expect(done.status == .completed)
            #expect(done.values.outcome == "postponed")
            let records = try await checkpointer.interrupts(thread: thread)
            #expect(records.map(\.status) == [.expired])
            #expect(records.first?.resolvedBy == "timeout")

            // A review app resumes by interrupt id: refused as already resolved (expired).
            let lateByID = await #expect(throws: GraphError.self) {
                try await app.resume(thread: thread, answers: [paused.interrupts[0].id: ["approved": true]])
            }
            #expect(lateByID?.code == .alreadyResolved, "got \(String(describing: lateByID))")
            // A plain resume finds nothing waiting: the run already finished with the default.
            let latePlain = await #expect(throws: GraphError.self) {
                try await app.resume(thread: thread, with: MaintenanceAnswer(approved: true))
            }
            #expect(latePlain?.code == .noPendingInterrupt, "got \(String(describing: latePlain))")
        }

        @Test("An answer before the deadline wins and the timer never fires")
        func answeredInTime() async throws {
            let clock = ManualClock()
            let app = try TimeoutDefaultExample.makeGraph(clock: clock)
            let thread = exampleThread()
            _ = try await app.invoke(MaintenanceState(plan: "rotate certificates"), thread: thread)
            clock.advance(by: 60)
            let done = try await app.resume(thread: thread, with: MaintenanceAnswer(approved: true))
            #expect(done.values.outcome == "applied")
            #expect(try await app.deadlines(thread: thread).isEmpty)
            clock.advance(by: 3600)
            #expect(try await app.expire(thread: thread) == nil)
        }
    }

    @Suite("Subgraph review example")
    struct SubgraphReviewExampleTests {
        @Test("the subgraph's question pauses the parent with a namespace; an edited approval publishes the edit")
        func review() async throws {
            let app = try SubgraphReviewExample.makeGraph()
            let thread = "article-1"
            let paused = try await app.invoke(ArticleState(topic: "tides"), thread: thread)
            let question = try #require(paused.interrupts.first)
            #expect(try question.value(as: DraftQuestion.self).draft == "A short piece on tides.")
            #expect(question.namespace?.hasPrefix("review:") == true)
            let inner = try #require(try await app.getState(thread: thread, subgraphs: true)?.subgraphs[question.namespace ?? ""])
            #expect(inner.next == ["review"])
            let done = try await app.resume(thread: thread, with: DraftVerdict(draft: "Tides, briefly."))
            #expect(done.status == .completed)
            #expect(done.values.draft == "Tides, briefly.")
            #expect(done.values.published)
            #expect(done.values.log == ["plan", "write", "review", "publish"])
        }

        @Test("a generic review app's answers to the {prompt, draft} question work: {} keeps and approves, {draft} approves an edit, approved false stops")
        func genericAnswers() async throws {
            let app = try SubgraphReviewExample.makeGraph()
            for (answer, draft, published) in [
                (JSONValue.object([:]), "A short piece on tides.", true), (["draft": "Tides."], "Tides.", true),
                (["approved": false], "A short piece on tides.", false),
            ] {
                let thread = "article-\(UUID().uuidString)"
                let paused = try await app.invoke(ArticleState(topic: "tides"), thread: thread)
                let id = try #require(paused.interrupts.first?.id)
                let done = try await app.resume(thread: thread, answers: [id: answer])
                #expect(done.values.draft == draft)
                #expect(done.values.published == published, "answer \(answer)")
            }
        }
    }

    @Suite("Example catalog")
    struct ExampleCatalogTests {
        @Test("The catalog lists every example once, under its graph name")
        func catalog() throws {
            let names = ExampleCatalog.entries.map(\.name)
            #expect(Set(names).count == names.count)
            let graphNames = [
                try ApprovalExample.makeGraph().identity.name, try EditStateExample.makeGraph().identity.name,
                try ToolReviewExample.makeGraph().identity.name, try ValidatedInputExample.makeGraph().identity.name,
                try MultiQuestionExample.makeGraph().identity.name, try ConditionalInterruptExample.makeGraph().identity.name,
                try TimeoutDefaultExample.makeGraph().identity.name, try SubgraphReviewExample.makeGraph().identity.name,
            ]
            #expect(names == graphNames)
            #expect(ExampleCatalog.entry(named: "approval")?.summary.isEmpty == false)
            #expect(ExampleCatalog.entry(named: "nope") == nil)
        }
    }
}
