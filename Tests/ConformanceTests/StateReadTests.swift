import Foundation
import Interlude
import Synchronization
import Testing

/// A state with one summed number, for the "one (+2) and two (fails)" cases.
struct SumState: GraphState, Equatable {
    var x = 0
    static let channels: [Channel<SumState>] = [.reducer("x", \.x, +)]
}

/// A switch a test flips to make a node stop failing.
final class Flag: Sendable {
    private let value: Mutex<Bool>
    init(_ value: Bool) { self.value = Mutex(value) }
    var isOn: Bool { value.withLock { $0 } }
    func set(_ on: Bool) { value.withLock { $0 = on } }
}

struct NodeBroke: Error, CustomStringConvertible {
    var description: String { "two is broken" }
}

/// START fans out to "one" (+2) and "two" (+3, throws while `broken` is on).
func oneTwoGraph(_ backend: Backend, _ counter: RunCounter, broken: Flag) async throws -> Harness<SumState> {
    try await Harness<SumState>(backend) { graph in
        graph.addNode("one") { _ in counter.hit("one"); return .update(\.x, 2) }
        graph.addNode("two") { _ in
            counter.hit("two")
            if broken.isOn { throw NodeBroke() }
            return .update(\.x, 3)
        }
        graph.addEdge(START, "one")
        graph.addEdge(START, "two")
    }
}

@Suite("E. Reading state and history", .tags(.conformance), .timeLimit(.minutes(1)))
struct StateReadTests {
    @Test("E1 the state at a pause shows values, next, tasks, ids, creation time and metadata", arguments: Backend.allCases)
    func e1(backend: Backend) async throws {
        let counter = RunCounter()
        let clock = ManualClock()
        let h = try await Harness<ListState>(backend, clock: clock) { graph in
            graph.addNode("h1", askAndAppend("h1", "Q1", counter))
            graph.addNode("ok", appendName("ok", counter))
            graph.addEdge(START, "h1")
            graph.addEdge(START, "ok")
        }
        let thread = newThread()
        let result = try await h.app.invoke(ListState(), thread: thread, config: RunConfig(metadata: ["user": "ann"]))
        let state = try await h.state(thread)
        #expect(state.values.v == ["ok"])
        #expect(state.next == ["h1"])
        #expect(state.threadID == thread)
        #expect(state.checkpointID == result.checkpointID)
        #expect(state.createdAt == clock.now)
        #expect(state.metadata["user"] == "ann")
        #expect(state.source == .loop)
        #expect(state.step == 0)
        #expect(state.interrupts.map(\.id) == result.interrupts.map(\.id))
        let history = try await h.history(thread)
        #expect(history.count == 2)
        #expect(state.parentCheckpointID == history[1].checkpointID)
        #expect(history[1].parentCheckpointID == nil)
        #expect(history[1].source == .input)
        #expect(history[1].step == -1)

        #expect(state.tasks.map(\.name) == ["h1", "ok"])
        let asker = try #require(state.tasks.first { $0.name == "h1" })
        #expect(asker.interrupts.map(\.value) == ["Q1"])
        #expect(asker.result == nil)
        #expect(asker.error == nil)
        let finished = try #require(state.tasks.first { $0.name == "ok" })
        #expect(finished.interrupts.isEmpty)
        #expect(finished.result == ["v": ["ok"]])
        #expect(finished.error == nil)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("E2 the head shows finished siblings' writes; the checkpoint read by id shows it as saved", arguments: Backend.allCases)
    func e2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await oneTwoGraph(backend, counter, broken: Flag(true))
        let thread = newThread()
        await #expect(throws: GraphError.self) { try await h.app.invoke(SumState(x: 1), thread: thread) }
        let head = try await h.state(thread)
        #expect(head.values.x == 3)
        #expect(head.next == ["two"])
        let failed = try #require(head.tasks.first { $0.name == "two" })
        #expect(failed.error?.contains("two is broken") == true)
        #expect(head.tasks.first { $0.name == "one" }?.result == ["x": 2])

        let saved = try #require(try await h.app.getState(thread: thread, checkpointID: head.checkpointID))
        #expect(saved.values.x == 1)
        #expect(saved.next == ["one", "two"])
    }

    @Test("E3 history is newest first and supports limit, before and metadata filters; a fork is listed first", arguments: Backend.allCases)
    func e3(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try InterruptTests.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        _ = try await app.invoke(ListState(), thread: thread, config: RunConfig(metadata: ["run": "first"]))
        _ = try await app.resume(thread: thread, with: "hello", config: RunConfig(metadata: ["run": "second"]))
        let history = try await app.stateHistory(thread: thread)
        #expect(history.map(\.step) == [3, 2, 1, 0, -1])
        #expect(history.map(\.source) == [.loop, .loop, .loop, .loop, .input])
        let ids = history.map(\.checkpointID)
        #expect(ids == ids.sorted(by: >))

        #expect(try await app.stateHistory(thread: thread, limit: 2).map(\.checkpointID) == Array(ids.prefix(2)))
        #expect(try await app.stateHistory(thread: thread, before: ids[1]).map(\.checkpointID) == Array(ids.dropFirst(2)))
        #expect(try await app.stateHistory(thread: thread, limit: 1, before: ids[1]).map(\.checkpointID) == [ids[2]])
        #expect(try await app.stateHistory(thread: thread, filter: ["source": "input"]).map(\.step) == [-1])
        #expect(try await app.stateHistory(thread: thread, filter: ["step": 1]).map(\.checkpointID) == [ids[2]])
        #expect(try await app.stateHistory(thread: thread, filter: ["run": "second"]).map(\.step) == [3, 2])

        // Replay from step 1 (ask pending): the fork comes first although its step is lower.
        let replay = try await app.invoke(thread: thread, config: RunConfig(checkpointID: ids[2]))
        #expect(replay.status == .interrupted)
        let after = try await app.stateHistory(thread: thread)
        #expect(after.count == 6)
        #expect(after[0].source == .fork)
        #expect(after[0].step == 2, "as in LangGraph, a fork's step is the replayed checkpoint's step + 1")
        #expect(after[0].parentCheckpointID == ids[2])
        #expect(Array(after.dropFirst().map(\.checkpointID)) == ids)
    }

    @Test("E4 a history entry's task shows the interrupt it raised and the result it produced after resume", arguments: Backend.allCases)
    func e4(backend: Backend) async throws {
        let counter = RunCounter()
        let (app, _, thread, paused) = try await InterruptTests.answeredThread(backend, counter)
        let entry = try #require(try await app.stateHistory(thread: thread).first { $0.checkpointID == paused.checkpointID })
        #expect(entry.next == ["ask"])
        let task = try #require(entry.tasks.first)
        #expect(entry.tasks.count == 1)
        #expect(task.name == "ask")
        #expect(task.interrupts.map(\.id) == paused.interrupts.map(\.id))
        #expect(task.interrupts.map(\.value) == ["q"])
        #expect(task.result == ["v": ["ask:hello"]])
    }
}
