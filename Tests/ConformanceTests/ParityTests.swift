import Foundation
import Interlude
import Testing

/// Behaviours that differed from LangGraph 1.2.24 (issue 9), each asserting what LangGraph
/// does with `InMemorySaver` on the same graph.
@Suite("M. LangGraph parity, round two", .tags(.conformance), .serialized, .timeLimit(.minutes(1)))
struct ParityTests {
    /// START -> a -> n1 -> END, with n2 reachable only by a goto; paused before n1.
    static func breakpointGraph(_ backend: Backend, _ counter: RunCounter) async throws -> Harness<ListState> {
        try await Harness<ListState>(backend, interruptBefore: ["n1"]) { graph in
            graph.addNode("a", destinations: ["n2"], appendName("a", counter))
            graph.addNode("n1", appendName("n1", counter))
            graph.addNode("n2", appendName("n2", counter))
            graph.addEdge(START, "a")
            graph.addEdge("a", "n1")
        }
    }

    @Test("M1 Command(goto:), Command(update:) and both at a static breakpoint run the waiting node at once, in the same step", arguments: Backend.allCases)
    func m1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.breakpointGraph(backend, counter)
        let commands: [(Command<ListState>, [String])] = [
            (.goto("n2"), ["a", "n1", "n2"]),
            (.update(.append(\.v, "U")), ["a", "U", "n1"]),
            (.goto("n2", update: .append(\.v, "U")), ["a", "U", "n1", "n2"]),
        ]
        for (command, expected) in commands {
            let thread = newThread()
            let paused = try await h.app.invoke(ListState(), thread: thread)
            #expect(paused.next == ["n1"])
            let before = try await h.history(thread).count
            let done = try await h.app.invoke(command, thread: thread)
            #expect(done.status == .completed, "the breakpoint must not fire again for the node already waiting there")
            #expect(done.values.v == expected)
            #expect(try await h.history(thread).count == before + 1, "n1 (and the goto) ran in one superstep")
        }
        #expect(counter["n1"] == 3 && counter["n2"] == 2)
    }

    @Test("M2 Command(resume:goto: x) when the resumed node also has an edge to x runs x in that step and again after", arguments: Backend.allCases)
    func m2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("ask", askAndAppend("ask", "q", counter))
            graph.addNode("x", appendName("x", counter))
            graph.addEdge(START, "ask")
            graph.addEdge("ask", "x")
        }
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        let done = try await h.app.invoke(try Command(resume: "R", goto: ["x"]), thread: thread)
        #expect(done.status == .completed)
        #expect(done.values.v == ["ask:R", "x", "x"])
        #expect(counter["x"] == 2)
    }

    @Test("M3 a resume value with nothing pending answers the next interrupt: at a breakpoint, after an edit, after a failure", arguments: Backend.allCases)
    func m3(backend: Backend) async throws {
        let counter = RunCounter()
        // At a static breakpoint before the node that asks.
        let h = try await Harness<ListState>(backend, interruptBefore: ["ask"]) { graph in
            graph.addNode("a", appendName("a", counter))
            graph.addNode("ask") { _ in
                counter.hit("ask")
                let first: String = try await interrupt("q1")
                let second: String = try await interrupt("q2")
                return .update(\.v, ["ask:\(first),\(second)"])
            }
            graph.addEdge(START, "a")
            graph.addEdge("a", "ask")
        }
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.next == ["ask"] && paused.interrupts.isEmpty)
        let second = try await h.app.resume(thread: thread, with: "A1")
        #expect(second.status == .interrupted)
        #expect(second.interrupts.map(\.value) == ["q2"], "the value answered q1 and was used once")
        let done = try await h.app.resume(thread: thread, with: "A2")
        #expect(done.values.v == ["a", "ask:A1,A2"])
        #expect(counter["ask"] == 2)

        // After updateState at an interrupted head: the re-raised question takes the value.
        let askCounter = RunCounter()
        let app = try InterruptTests.askGraph(askCounter, checkpointer: try await backend.make())
        let edited = newThread()
        _ = try await app.invoke(ListState(), thread: edited)
        try await app.updateState(thread: edited, values: .append(\.v, "edit"), asNode: "a")
        let after = try await app.resume(thread: edited, with: "late")
        #expect(after.status == .completed)
        #expect(after.values.v == ["a", "edit", "ask:late", "b"])
        #expect(askCounter["ask"] == 2)

        // After a failure: the failed node re-runs and the value answers its question.
        let broken = Flag(true)
        let f = try await Harness<ListState>(backend) { graph in
            graph.addNode("flaky") { _ in
                counter.hit("flaky")
                if broken.isOn { throw NodeBroke() }
                let answer: String = try await interrupt("q")
                return .update(\.v, ["flaky:\(answer)"])
            }
            graph.addEdge(START, "flaky")
        }
        let failing = newThread()
        await #expect(throws: GraphError.self) { try await f.app.invoke(ListState(), thread: failing) }
        broken.set(false)
        let fixed = try await f.app.resume(thread: failing, with: "v")
        #expect(fixed.status == .completed)
        #expect(fixed.values.v == ["flaky:v"])

        // Decision: with nothing left to run, nothing could use the value: refused, with a reason.
        let error = await #expect(throws: GraphError.self) { try await f.app.resume(thread: failing, with: "again") }
        #expect(error?.code == .noPendingInterrupt)
        #expect(error?.message.contains("nothing left to run") == true)
    }

    @Test("M4 updateState(asNode:) on a head with pending tasks replaces the pending step: only asNode's successors run", arguments: Backend.allCases)
    func m4(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend, interruptAfter: ["a"]) { graph in
            for name in ["a", "b", "c"] { graph.addNode(name, appendName(name, counter)) }
            graph.addEdge(START, "a")
            graph.addEdge("a", "b")
            graph.addEdge("a", "c")
            graph.addEdge("b", "c")
        }
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.next == ["b", "c"])
        try await h.app.updateState(thread: thread, values: nil, asNode: "b")
        #expect(try await h.state(thread).next == ["c"])
        let done = try await h.app.invoke(thread: thread)
        #expect(done.values.v == ["a", "c"])
        #expect(counter["b"] == 0 && counter["c"] == 1)
    }

    @Test("M5 updateState with no asNode when only START has written is attributed to START", arguments: Backend.allCases)
    func m5(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend, interruptBefore: ["n1"]) { addChain(&$0, ["n1", "n2"], counter) }
        let thread = newThread()
        _ = try await h.app.invoke(ListState(v: ["in"]), thread: thread)
        try await h.app.updateState(thread: thread, values: .append(\.v, "edit"))
        let state = try await h.state(thread)
        #expect(state.next == ["n1"], "START's edge is taken again")
        #expect(state.values.v == ["in", "edit"])
        let done = try await h.app.invoke(thread: thread)
        #expect(done.values.v == ["in", "edit", "n1", "n2"])

        // A thread with no checkpoint: the update is the input, as START.
        let fresh = newThread()
        try await h.app.updateState(thread: fresh, values: .append(\.v, "seed"))
        #expect(try await h.state(fresh).next == ["n1"])
    }

    @Test("M6 a replay fork's step is the replayed checkpoint's step + 1, and the branch counts on from there", arguments: Backend.allCases)
    func m6(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { addChain(&$0, ["n1", "n2", "n3"], counter) }
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        let old = try await h.history(thread)
        let replayed = try #require(old.first { $0.step == 1 })
        _ = try await h.app.invoke(thread: thread, config: RunConfig(checkpointID: replayed.checkpointID))
        let history = try await h.history(thread)
        let fork = try #require(history.first { $0.source == .fork })
        #expect(fork.step == replayed.step + 1)
        #expect(history[0].step == replayed.step + 3, "n2 and n3 ran after the fork")
        #expect(history[0].values.v == ["n1", "n2", "n3"])
    }

    @Test("M7 a failure beside an interrupt keeps the interrupt pending; a resume answers it while the failed node re-runs", arguments: Backend.allCases)
    func m7(backend: Backend) async throws {
        let counter = RunCounter()
        let broken = Flag(true)
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("ask", askAndAppend("ask", "q", counter))
            graph.addNode("bad") { _ in
                counter.hit("bad")
                if broken.isOn { throw NodeBroke() }
                return .update(\.v, ["bad"])
            }
            graph.addNode("ok", appendName("ok", counter))
            for name in ["ask", "bad", "ok"] { graph.addEdge(START, name) }
        }
        let thread = newThread()
        let error = await #expect(throws: GraphError.self) { try await h.app.invoke(ListState(), thread: thread) }
        #expect(error?.code == .nodeFailed)
        let state = try await h.state(thread)
        #expect(state.interrupts.map(\.value) == ["q"])
        #expect(state.next == ["ask", "bad"])
        #expect(state.values.v == ["ok"])

        broken.set(false)
        let done = try await h.app.resume(thread: thread, with: "R")
        #expect(done.status == .completed)
        #expect(done.values.v == ["ask:R", "bad", "ok"])
        #expect(counter["ok"] == 1 && counter["bad"] == 2 && counter["ask"] == 2)
    }

    @Test("M8 the result of an invoke that pauses in a parallel step includes the finished siblings' writes", arguments: Backend.allCases)
    func m8(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await ParallelInterruptTests.fanOut(backend, counter)
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.status == .interrupted)
        #expect(paused.values.v == ["ok"])
        #expect(try await h.state(thread).values == paused.values)
    }
}
