import Foundation
import Interlude
import Testing

@Suite("D. Static breakpoints", .tags(.conformance), .timeLimit(.minutes(1)))
struct BreakpointTests {
    /// agent -> tools -> agent ... until agent has run `rounds` times, then END.
    static func loop(
        _ backend: Backend, _ counter: RunCounter, rounds: Int, interruptBefore: [String] = [], interruptAfter: [String] = []
    ) async throws -> Harness<ListState> {
        try await Harness<ListState>(backend, interruptBefore: interruptBefore, interruptAfter: interruptAfter) { graph in
            graph.addNode("agent", appendName("agent", counter))
            graph.addNode("tools", appendName("tools", counter))
            graph.addEdge(START, "agent")
            graph.addConditionalEdges("agent", destinations: ["tools", END]) { state in
                state.v.filter { $0 == "agent" }.count < rounds ? "tools" : END
            }
            graph.addEdge("tools", "agent")
        }
    }

    @Test("D1 interruptBefore pauses before the node; continuing runs it; a run-time list replaces the compiled one", arguments: Backend.allCases)
    func d1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend, interruptBefore: ["n2"]) { addChain(&$0, ["n1", "n2", "n3"], counter) }
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.status == .interrupted)
        #expect(paused.interrupts.isEmpty)
        #expect(paused.next == ["n2"])
        #expect(paused.values.v == ["n1"])
        #expect(counter["n2"] == 0)
        #expect(try await h.state(thread).next == ["n2"])
        let done = try await h.app.invoke(thread: thread)
        #expect(done.status == .completed)
        #expect(done.values.v == ["n1", "n2", "n3"])

        // A run-time list replaces the compiled one, for that call only.
        let other = newThread()
        let atN3 = try await h.app.invoke(ListState(), thread: other, config: RunConfig(interruptBefore: ["n3"]))
        #expect(atN3.next == ["n3"])
        #expect(atN3.values.v == ["n1", "n2"])
        let third = newThread()
        #expect(try await h.app.invoke(ListState(), thread: third).next == ["n2"])
        let noneAtAll = try await h.app.invoke(ListState(), thread: newThread(), config: RunConfig(interruptBefore: []))
        #expect(noneAtAll.status == .completed)
    }

    @Test("D2 interruptAfter commits the node's update, then stops, and stops again on a loop back", arguments: Backend.allCases)
    func d2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.loop(backend, counter, rounds: 2, interruptAfter: ["agent"])
        let thread = newThread()
        let first = try await h.app.invoke(ListState(), thread: thread)
        #expect(first.status == .interrupted)
        #expect(first.next == ["tools"])
        #expect(try await h.state(thread).values.v == ["agent"])
        let second = try await h.app.invoke(thread: thread)
        #expect(second.status == .interrupted)
        #expect(second.values.v == ["agent", "tools", "agent"])
        #expect(second.next == [])
        // Stopped after agent although nothing follows: continuing finishes.
        let done = try await h.app.invoke(thread: thread)
        #expect(done.status == .completed)
        #expect(done.values.v == ["agent", "tools", "agent"])
        #expect(counter["agent"] == 2)
    }

    @Test("D3 breakpoints on every node step through a chain, even past a node that wrote nothing", arguments: Backend.allCases)
    func d3(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend, interruptBefore: ["*"]) { graph in
            graph.addNode("n1", appendName("n1", counter))
            graph.addNode("silent") { _ in counter.hit("silent"); return .none }
            graph.addNode("n3", appendName("n3", counter))
            graph.addEdge(START, "n1")
            graph.addEdge("n1", "silent")
            graph.addEdge("silent", "n3")
        }
        let thread = newThread()
        var nexts: [[String]] = [try await h.app.invoke(ListState(), thread: thread).next]
        for _ in 0..<3 { nexts.append(try await h.app.invoke(thread: thread).next) }
        #expect(nexts == [["n1"], ["silent"], ["n3"], []])
        #expect(try await h.state(thread).values.v == ["n1", "n3"])

        // The same with interruptAfter: it fires after the node that wrote nothing.
        let after = newThread()
        let config = RunConfig(interruptBefore: [], interruptAfter: ["*"])
        var afterNexts: [[String]] = [try await h.app.invoke(ListState(), thread: after, config: config).next]
        for _ in 0..<3 { afterNexts.append(try await h.app.invoke(thread: after, config: config).next) }
        #expect(afterNexts == [["silent"], ["n3"], [], []])
        #expect(counter["silent"] == 2)
    }

    @Test("D4 resuming at a breakpoint does not stop there again at once, but does on the next pass", arguments: Backend.allCases)
    func d4(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.loop(backend, counter, rounds: 3, interruptBefore: ["tools"])
        let thread = newThread()
        let first = try await h.app.invoke(ListState(), thread: thread)
        #expect(first.next == ["tools"])
        #expect(counter["tools"] == 0)
        let second = try await h.app.invoke(thread: thread)
        #expect(second.next == ["tools"])
        #expect(counter["tools"] == 1)
        #expect(second.values.v == ["agent", "tools", "agent"])
        let done = try await h.app.invoke(thread: thread)
        #expect(done.status == .completed)
        #expect(done.values.v == ["agent", "tools", "agent", "tools", "agent"])
        #expect(counter["tools"] == 2)
    }

    @Test("D5 new input on a paused thread starts again from START and re-raises with a new id", arguments: Backend.allCases)
    func d5(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try InterruptTests.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        let first = try await app.invoke(ListState(), thread: thread)
        let second = try await app.invoke(ListState(v: ["new"]), thread: thread)
        #expect(counter["a"] == 2)
        #expect(counter["ask"] == 2)
        #expect(second.values.v == ["a", "new", "a"])
        #expect(second.interrupts.count == 1)
        #expect(second.interrupts.first?.id != first.interrupts.first?.id)
        let done = try await app.resume(thread: thread, with: "x")
        #expect(done.values.v == ["a", "new", "a", "ask:x", "b"])
        #expect(counter["ask"] == 3)

        // At a breakpoint: new input drops the pending node too.
        let h = try await Harness<ListState>(backend, interruptBefore: ["n2"]) { addChain(&$0, ["n1", "n2"], counter) }
        let paused = newThread()
        _ = try await h.app.invoke(ListState(), thread: paused)
        let again = try await h.app.invoke(ListState(), thread: paused)
        #expect(again.next == ["n2"])
        #expect(again.values.v == ["n1", "n1"])
        #expect(counter["n2"] == 0)
    }

    @Test("D6 a run-time breakpoint on a node the graph does not have, or a recursion limit below 1, is refused before anything is written", arguments: Backend.allCases)
    func d6(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { addChain(&$0, ["n1", "n2"], counter) }
        let thread = newThread()
        for (config, code, message) in [
            (RunConfig(interruptBefore: ["n2", "nope"]), GraphError.Code.unknownNode, "interruptBefore names 'nope'"),
            (RunConfig(interruptAfter: ["N1"]), .unknownNode, "interruptAfter names 'N1'"),
            (RunConfig(recursionLimit: 0), .recursionLimit, "recursion limit 0 allows no superstep"),
        ] {
            let error = await #expect(throws: GraphError.self) { try await h.app.invoke(ListState(), thread: thread, config: config) }
            #expect(error?.code == code)
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        }
        #expect(counter["n1"] == 0)
        #expect(try await h.app.getState(thread: thread) == nil)
        // '*' and the graph's own names are accepted.
        #expect(try await h.app.invoke(ListState(), thread: thread, config: RunConfig(interruptBefore: ["*"], interruptAfter: ["n2"])).next == ["n1"])
    }
}
