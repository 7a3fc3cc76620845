import Foundation
import Interlude
import Testing

/// A one-shot signal between nodes of one superstep, to force an order of finishing.
final class Gate: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self) }

    func open() { continuation.finish() }

    func wait() async { for await _ in stream {} }
}

@Suite("H. Failures and pending writes", .tags(.conformance), .timeLimit(.minutes(1)))
struct FailureTests {
    @Test("H1 a failing node saves no checkpoint; continuing re-runs only the failed node", arguments: Backend.allCases)
    func h1(backend: Backend) async throws {
        let counter = RunCounter()
        let broken = Flag(true)
        let h = try await oneTwoGraph(backend, counter, broken: broken)
        let thread = newThread()
        let error = await #expect(throws: GraphError.self) { try await h.app.invoke(SumState(x: 1), thread: thread) }
        #expect(error?.code == .nodeFailed)
        #expect(error?.underlying is NodeBroke)
        #expect(error?.message.contains("'two'") == true)
        let history = try await h.history(thread)
        #expect(history.map(\.step) == [0, -1], "no checkpoint for the failed step")
        #expect(counter["one"] == 1 && counter["two"] == 1)

        broken.set(false)
        let done = try await h.app.invoke(thread: thread)
        #expect(done.status == .completed)
        #expect(done.values.x == 6)
        #expect(counter["one"] == 1)
        #expect(counter["two"] == 2)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("H2 parallel appends land in the fixed node order whatever order the nodes finish in", arguments: Backend.allCases)
    func h2(backend: Backend) async throws {
        let counter = RunCounter()
        let cDone = Gate()
        let bDone = Gate()
        let order = OrderLog()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("a") { _ in
                await bDone.wait()
                order.add("a")
                counter.hit("a")
                return .update(\.v, ["a"])
            }
            graph.addNode("b") { _ in
                await cDone.wait()
                order.add("b")
                bDone.open()
                return .update(\.v, ["b1", "b2"])
            }
            graph.addNode("c") { _ in
                order.add("c")
                cDone.open()
                return .update(\.v, ["c"])
            }
            for node in ["a", "b", "c"] { graph.addEdge(START, node) }
        }
        let result = try await h.app.invoke(ListState(v: ["in"]), thread: newThread())
        #expect(order.entries == ["c", "b", "a"])
        #expect(result.values.v == ["in", "a", "b1", "b2", "c"])
    }

    @Test("H2 nodes apply before Send tasks, and Send tasks by index, whatever order they finish in", arguments: Backend.allCases)
    func h2Sends(backend: Backend) async throws {
        let s2Done = Gate()
        let s1Done = Gate()
        let order = OrderLog()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("worker") { state in
                let name = state.v.first ?? "?"
                if name == "s1" { await s2Done.wait() }
                order.add(name)
                if name == "s1" { s1Done.open() } else { s2Done.open() }
                return .update(\.v, [name])
            }
            graph.addNode("a_node") { _ in
                await s1Done.wait()
                order.add("a_node")
                return .update(\.v, ["a_node"])
            }
            graph.addConditionalEdges(START, destinations: ["worker", "a_node"]) { _ in
                [.send(Send("worker", ListState(v: ["s1"]))), .send(Send("worker", ListState(v: ["s2"]))), .node("a_node")]
            }
        }
        let result = try await h.app.invoke(ListState(), thread: newThread())
        #expect(order.entries == ["s2", "s1", "a_node"])
        #expect(result.values.v == ["a_node", "s1", "s2"])
    }
}

/// The order nodes finished in.
final class OrderLog: Sendable {
    private let log = Mutex<[String]>([])
    func add(_ entry: String) { log.withLock { $0.append(entry) } }
    var entries: [String] { log.withLock { $0 } }
}

import Synchronization
