import Foundation
import Interlude
import Testing

@Suite("L. Timeouts on human waits", .tags(.conformance), .timeLimit(.minutes(1)))
struct DeadlineTests {
    /// START -> ask -> b, where `ask` waits 60 seconds with the given timeout action.
    static func timed(_ backend: Backend, _ clock: ManualClock, _ counter: RunCounter, onTimeout: TimeoutAction?) async throws -> Harness<ListState> {
        try await Harness<ListState>(backend, clock: clock) { graph in
            graph.addNode("ask") { _ in
                counter.hit("ask")
                let answer: String = try await interrupt("approve?", timeout: .seconds(60), onTimeout: onTimeout)
                return .update(\.v, ["ask:\(answer)"])
            }
            graph.addNode("b", appendName("b", counter))
            graph.addEdge(START, "ask")
            graph.addEdge("ask", "b")
        }
    }

    @Test("L1 a deadline with a default answer continues with the default and history says it timed out", arguments: Backend.allCases)
    func l1(backend: Backend) async throws {
        let clock = ManualClock()
        let counter = RunCounter()
        let h = try await Self.timed(backend, clock, counter, onTimeout: .answer("default"))
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        let interrupt = try #require(paused.interrupts.first)
        #expect(interrupt.deadline == clock.now.addingTimeInterval(60))
        let deadlines = try await h.app.deadlines(thread: thread)
        #expect(deadlines.map(\.id) == [interrupt.id])
        #expect(deadlines.first?.deadline == clock.now.addingTimeInterval(60))

        clock.advance(by: 30)
        // Re-running the waiting node (continue with no input) keeps the original deadline.
        let rerun = try await h.app.invoke(thread: thread)
        #expect(rerun.interrupts.map(\.id) == [interrupt.id])
        #expect(try await h.app.deadlines(thread: thread).first?.deadline == interrupt.deadline)
        clock.advance(by: 29)
        #expect(try await h.app.expire(thread: thread) == nil, "nothing is due before the deadline")
        #expect(counter["ask"] == 2)

        clock.advance(by: 2)
        let result = try #require(try await h.app.expire(thread: thread))
        #expect(result.status == .completed)
        #expect(result.values.v == ["ask:default", "b"])
        let records = try await h.checkpointer.interrupts(thread: thread)
        #expect(records.map(\.status) == [.expired])
        #expect(records.first?.resolvedBy == "timeout")
        let history = try await h.history(thread)
        let timedOut = history.filter { $0.metadata["timed_out"] != nil }
        #expect(timedOut.count == 1)
        #expect(timedOut.first?.metadata["timed_out"] == [.string(interrupt.id)])
        #expect(try await h.app.deadlines(thread: thread).isEmpty)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("L2 a deadline with no default ends the run failed with reason timeout; a later resume is refused", arguments: Backend.allCases)
    func l2(backend: Backend) async throws {
        let clock = ManualClock()
        let counter = RunCounter()
        let h = try await Self.timed(backend, clock, counter, onTimeout: nil)
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        let id = try #require(paused.interrupts.first?.id)
        clock.advance(by: 61)
        let result = try #require(try await h.app.expire(thread: thread))
        #expect(result.status == .failed)
        #expect(result.failureReason?.hasPrefix("timeout") == true)
        let record = try #require(try await h.checkpointer.thread(thread))
        #expect(record.status == .failed)
        #expect(record.failureReason?.hasPrefix("timeout") == true)
        #expect(try await h.checkpointer.interrupts(thread: thread).map(\.status) == [.expired])

        let late = await #expect(throws: GraphError.self) { try await h.app.resume(thread: thread, with: "yes") }
        #expect(late?.code == .alreadyResolved)
        #expect(late?.message.contains("expired") == true)
        let lateByID = await #expect(throws: GraphError.self) { try await h.app.resume(thread: thread, answers: [id: "yes"]) }
        #expect(lateByID?.code == .alreadyResolved)

        // Continuing the failed thread does not ask the expired question again (which would
        // make it pending and answerable once more).
        let again = await #expect(throws: GraphError.self) { try await h.app.invoke(thread: thread) }
        #expect(again?.code == .timeout)
        #expect(again?.message.contains("failed") == true)
        let stillLate = await #expect(throws: GraphError.self) { try await h.app.resume(thread: thread, with: "yes") }
        #expect(stillLate?.code == .alreadyResolved)
        #expect(try await h.checkpointer.interrupts(thread: thread).map(\.status) == [.expired])
        #expect(counter["ask"] == 1 && counter["b"] == 0)
    }

    @Test("L3 a resume before the deadline cancels the timer; it never fires later", arguments: Backend.allCases)
    func l3(backend: Backend) async throws {
        let clock = ManualClock()
        let counter = RunCounter()
        let h = try await Self.timed(backend, clock, counter, onTimeout: .answer("default"))
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        clock.advance(by: 30)
        let done = try await h.app.resume(thread: thread, with: "human")
        #expect(done.values.v == ["ask:human", "b"])
        #expect(try await h.app.deadlines(thread: thread).isEmpty)
        #expect(try await h.checkpointer.interrupts(thread: thread).filter { $0.status == .pending && $0.deadline != nil }.isEmpty)
        clock.advance(by: 3600)
        #expect(try await h.app.expire(thread: thread) == nil)
        #expect(try await h.state(thread).values.v == ["ask:human", "b"])
        #expect(try await h.checkpointer.interrupts(thread: thread).map(\.status) == [.resolved])
        #expect(counter["ask"] == 2)
    }
}
