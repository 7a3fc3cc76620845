import Foundation
import Interlude
import Testing

@Suite("A. Interrupt and resume", .tags(.conformance))
struct InterruptTests {
    static func askGraph(_ counter: RunCounter, checkpointer: (any Checkpointer)?) throws -> CompiledGraph<ListState> {
        var graph = StateGraph<ListState>()
        graph.addNode("a") { _ in counter.hit("a"); return .update(\.v, ["a"]) }
        graph.addNode("ask") { _ in
            counter.hit("ask")
            let answer: String = try await interrupt("q")
            return .update(\.v, ["ask:\(answer)"])
        }
        graph.addNode("b") { _ in counter.hit("b"); return .update(\.v, ["b"]) }
        graph.addEdge(START, "a")
        graph.addEdge("a", "ask")
        graph.addEdge("ask", "b")
        return try graph.compile(checkpointer: checkpointer)
    }

    @Test("A1 an interrupt pauses the run and reports the question with a stable id", arguments: Backend.allCases)
    func a1(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try Self.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        let result = try await app.invoke(ListState(), thread: thread)
        #expect(counter["a"] == 1)
        #expect(result.values.v == ["a"])
        #expect(result.interrupts.count == 1)
        #expect(result.interrupts.first?.value == "q")
        let state = try #require(try await app.getState(thread: thread))
        #expect(state.next == ["ask"])
        #expect(state.tasks.count == 1)
        #expect(state.tasks.first?.interrupts.map(\.id) == result.interrupts.map(\.id))
        #expect(state.source == .loop)
        #expect(state.step == 1)
    }

    @Test("A2 resume re-runs the interrupted node from its start and finishes", arguments: Backend.allCases)
    func a2(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try Self.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        _ = try await app.invoke(ListState(), thread: thread)
        let done = try await app.resume(thread: thread, with: "hello")
        #expect(done.values.v == ["a", "ask:hello", "b"])
        #expect(done.status == .completed)
        #expect(counter["ask"] == 2)
        #expect(counter["a"] == 1)
    }
}
