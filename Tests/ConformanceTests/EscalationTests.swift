import Foundation
import Interlude
import InterludeExamples
import Synchronization
import Testing

/// A remind -> escalate -> default chain driven by `expire(thread:now:)` on a controllable clock.
@Suite("Escalation", .tags(.conformance), .timeLimit(.minutes(1)))
struct EscalationTests {
    let clock = ManualClock()
    let input = ApprovalState(recipient: "ana@example.com", subject: "Q3")

    /// Interrupt records the commits published as new (what a worker turns into interrupt events).
    final class Published: Sendable {
        let records = Mutex<[InterruptRecord]>([])
        var config: RunConfig {
            var config = RunConfig()
            config.commitHook = { context in
                self.records.withLock { $0 += context.newInterrupts }
                return CommitExtras()
            }
            return config
        }
    }

    @Test("the sweep reminds at 2 s, hands the question to managers at 6 s, and takes the default at 20 s; each step is published again", arguments: Backend.allCases)
    func chain(backend: Backend) async throws {
        let store = try await backend.make()
        let app = try EscalatingApprovalExample.makeGraph(checkpointer: store, clock: clock)
        let published = Published()
        let thread = newThread()
        let paused = try await app.invoke(input, thread: thread, config: published.config)
        let interrupt = try #require(paused.interrupts.first)
        #expect(interrupt.deadline == clock.now.addingTimeInterval(2), "the first deadline is the reminder")
        #expect(try await app.deadlines(thread: thread).first?.deadline == clock.now.addingTimeInterval(2))
        #expect(try await app.expire(thread: thread, now: clock.now.addingTimeInterval(1.9), config: published.config) == nil)

        clock.advance(by: 2)
        let reminded = try #require(try await app.expire(thread: thread, now: clock.now, config: published.config))
        #expect(reminded.status == .interrupted)
        var record = try #require(try await store.interrupts(thread: thread).first)
        #expect(record.status == .pending && record.deadline == clock.now.addingTimeInterval(4))
        #expect(published.records.withLock { $0.last?.escalationStep } == "remind")
        #expect(published.records.withLock { $0.last?.approvers } == Approvers(users: ["alice"]))

        clock.advance(by: 4)
        _ = try #require(try await app.expire(thread: thread, now: clock.now, config: published.config))
        record = try #require(try await store.interrupts(thread: thread).first)
        #expect(record.deadline == clock.now.addingTimeInterval(14), "after escalating, the final deadline")
        #expect(published.records.withLock { $0.last?.escalationStep } == "escalate")
        let state = try #require(try await app.getState(thread: thread))
        #expect(state.interrupts.first?.approvers == Approvers(roles: ["managers"]))
        #expect(state.interrupts.first?.escalation?.done == [.remind, .escalate])
        // alice was the first approver; after escalation only managers may answer.
        let refused = await #expect(throws: GraphError.self) {
            try await app.invoke(try Command(resume: ApprovalAnswer.approve), thread: thread, config: RunConfig(answeredBy: ReviewActor("alice")))
        }
        #expect(refused?.code == .notAllowed)

        clock.advance(by: 14)
        let done = try #require(try await app.expire(thread: thread, now: clock.now, config: published.config))
        #expect(done.status == .completed)
        #expect(done.values.outcome == "rejected")
        #expect(done.values.comment == "no answer: the default applied")
        #expect(try await store.interrupts(thread: thread).first?.status == .expired)
        #expect(published.records.withLock { $0.count } == 3, "the question, the reminder and the escalation")
    }

    @Test("a manager may answer after escalation; a sweep that comes late skips the reminder", arguments: Backend.allCases)
    func lateSweep(backend: Backend) async throws {
        let store = try await backend.make()
        let app = try EscalatingApprovalExample.makeGraph(checkpointer: store, clock: clock)
        let published = Published()
        let thread = newThread()
        _ = try await app.invoke(input, thread: thread, config: published.config)
        clock.advance(by: 8)
        _ = try #require(try await app.expire(thread: thread, now: clock.now, config: published.config))
        #expect(published.records.withLock { $0.map(\.escalationStep) } == [nil, "escalate"])
        let done = try await app.invoke(try Command(resume: ApprovalAnswer.approve), thread: thread, config: RunConfig(answeredBy: ReviewActor("bo", roles: ["managers"])))
        #expect(done.status == .completed && done.values.outcome == "sent")
        #expect(try await store.interrupts(thread: thread).first?.resolvedBy == "bo")
    }
}
