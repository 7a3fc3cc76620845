import Foundation
import Interlude
import Testing

@Suite("B. Several interrupts in one node", .tags(.conformance), .timeLimit(.minutes(1)))
struct MultipleInterruptTests {
    /// START -> two -> END, where `two` asks q1 then q2 and appends both answers.
    static func twoQuestions(_ backend: Backend, _ counter: RunCounter) async throws -> Harness<ListState> {
        try await Harness<ListState>(backend) { graph in
            graph.addNode("two") { state in
                counter.hit("two")
                let first: String = try await interrupt("q1")
                let second: String = try await interrupt("q2")
                return .update(\.v, [first, second])
            }
            graph.addEdge(START, "two")
        }
    }

    @Test("B1 a node asks two questions in turn without a checkpoint in between", arguments: Backend.allCases)
    func b1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.twoQuestions(backend, counter)
        let thread = newThread()
        let first = try await h.app.invoke(ListState(v: ["start"]), thread: thread)
        #expect(first.interrupts.map(\.value) == ["q1"])
        let head = try await h.state(thread)
        let count = try await h.history(thread).count

        let second = try await h.app.resume(thread: thread, with: "a1")
        #expect(second.interrupts.map(\.value) == ["q2"])
        #expect(second.values.v == ["start"])
        let paused = try await h.state(thread)
        #expect(paused.values.v == ["start"], "state must not change until the node returns")
        #expect(paused.checkpointID == head.checkpointID)
        #expect(try await h.history(thread).count == count, "no checkpoint between the two questions")

        let done = try await h.app.resume(thread: thread, with: "a2")
        #expect(done.status == .completed)
        #expect(done.values.v == ["start", "a1", "a2"])
        #expect(counter["two"] == 3)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("B2 each question has its own stable id; resuming by id or by value gives the same result", arguments: Backend.allCases)
    func b2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.twoQuestions(backend, counter)
        let byValue = newThread()
        let q1 = try await h.app.invoke(ListState(), thread: byValue).interrupts
        let q2 = try await h.app.resume(thread: byValue, with: "a1").interrupts
        #expect(q1.count == 1 && q2.count == 1)
        #expect(q1.first?.id != q2.first?.id)
        // Re-running the same task (continue with no input) raises the same question with the same id.
        let again = try await h.app.invoke(thread: byValue).interrupts
        #expect(again.map(\.id) == q2.map(\.id))
        let viaValues = try await h.app.resume(thread: byValue, with: "a2")

        let byID = newThread()
        let r1 = try await h.app.invoke(ListState(), thread: byID).interrupts
        let r2 = try await h.app.resume(thread: byID, answers: [r1[0].id: "a1"]).interrupts
        #expect(r2.map(\.value) == ["q2"])
        let viaIDs = try await h.app.resume(thread: byID, answers: [r2[0].id: "a2"])
        #expect(viaIDs.values == viaValues.values)
        #expect(viaIDs.values.v == ["a1", "a2"])
    }

    @Test("B3 Command(resume:update:) applies the update before the node re-runs", arguments: Backend.allCases)
    func b3(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("ask") { state in
                counter.hit("ask")
                let answer: String = try await interrupt("q")
                return .update(\.v, ["saw \(state.v.joined(separator: ","))", answer])
            }
            graph.addEdge(START, "ask")
        }
        let thread = newThread()
        _ = try await h.app.invoke(ListState(v: ["x"]), thread: thread)
        let done = try await h.app.invoke(try Command(resume: "R", update: .append(\.v, "U")), thread: thread)
        #expect(done.values.v == ["x", "U", "saw x,U", "R"])
    }

    @Test("B4 a plain resume value is consumed once; continuing without a value re-raises the pending question", arguments: Backend.allCases)
    func b4(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.twoQuestions(backend, counter)
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        let q2 = try await h.app.resume(thread: thread, with: "a1")
        #expect(q2.interrupts.map(\.value) == ["q2"])
        let again = try await h.app.invoke(thread: thread)
        #expect(again.status == .interrupted)
        #expect(again.interrupts.map(\.value) == ["q2"])
        #expect(again.interrupts.map(\.id) == q2.interrupts.map(\.id))
        #expect(again.values.v == [])
        let done = try await h.app.resume(thread: thread, with: "a2")
        #expect(done.values.v == ["a1", "a2"])
    }
}
