import Foundation
import Interlude
import Testing

@Suite("C. Parallel interrupts", .tags(.conformance), .timeLimit(.minutes(1)))
struct ParallelInterruptTests {
    /// START fans out to h1 (asks Q1), h2 (asks Q2) and ok (appends "ok").
    static func fanOut(_ backend: Backend, _ counter: RunCounter) async throws -> Harness<ListState> {
        try await Harness<ListState>(backend) { graph in
            graph.addNode("h1", askAndAppend("h1", "Q1", counter))
            graph.addNode("h2", askAndAppend("h2", "Q2", counter))
            graph.addNode("ok", appendName("ok", counter))
            for node in ["h1", "h2", "ok"] { graph.addEdge(START, node) }
        }
    }

    static func ids(_ interrupts: [Interrupt]) -> (q1: String, q2: String) {
        (interrupts.first { $0.value == "Q1" }?.id ?? "none", interrupts.first { $0.value == "Q2" }?.id ?? "none")
    }

    @Test("C1 parallel interrupts are reported together and a finished sibling's update is kept", arguments: Backend.allCases)
    func c1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.fanOut(backend, counter)
        let thread = newThread()
        let result = try await h.app.invoke(ListState(), thread: thread)
        #expect(result.status == .interrupted)
        #expect(Set(result.interrupts.map(\.value)) == ["Q1", "Q2"])
        #expect(Set(result.interrupts.map(\.id)).count == 2)
        let state = try await h.state(thread)
        #expect(state.values.v == ["ok"])
        #expect(state.next == ["h1", "h2"])
        #expect(counter["ok"] == 1)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("C2 a plain resume with two pending interrupts fails asking for ids; nothing runs", arguments: Backend.allCases)
    func c2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.fanOut(backend, counter)
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        let before = try await h.history(thread).count
        let error = await #expect(throws: GraphError.self) { try await h.app.resume(thread: thread, with: "x") }
        #expect(error?.code == .ambiguousResume)
        #expect(error?.message.contains("answers: [id: value]") == true)
        for interrupt in paused.interrupts { #expect(error?.message.contains(interrupt.id) == true) }
        #expect(counter["h1"] == 1 && counter["h2"] == 1 && counter["ok"] == 1)
        #expect(try await h.history(thread).count == before)
        #expect(try await h.state(thread).next == ["h1", "h2"])
    }

    @Test("C3 a map with both ids resolves both in one call; ok does not run again", arguments: Backend.allCases)
    func c3(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.fanOut(backend, counter)
        let thread = newThread()
        let ids = Self.ids(try await h.app.invoke(ListState(), thread: thread).interrupts)
        let done = try await h.app.resume(thread: thread, answers: [ids.q1: "A1", ids.q2: "A2"])
        #expect(done.status == .completed)
        #expect(done.values.v == ["h1:A1", "h2:A2", "ok"])
        #expect(counter["ok"] == 1)
        #expect(counter["h1"] == 2 && counter["h2"] == 2)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("C4 a map with one id finishes that task; the other re-raises the same interrupt", arguments: Backend.allCases)
    func c4(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.fanOut(backend, counter)
        let thread = newThread()
        let ids = Self.ids(try await h.app.invoke(ListState(), thread: thread).interrupts)
        let partial = try await h.app.resume(thread: thread, answers: [ids.q1: "A1"])
        #expect(partial.status == .interrupted)
        #expect(partial.interrupts.map(\.id) == [ids.q2])
        #expect(partial.interrupts.map(\.value) == ["Q2"])
        #expect(counter["ok"] == 1)
        let state = try await h.state(thread)
        #expect(state.next == ["h2"])
        #expect(state.values.v == ["h1:A1", "ok"])
        let done = try await h.app.resume(thread: thread, with: "A2")
        #expect(done.values.v == ["h1:A1", "h2:A2", "ok"])
        #expect(counter["h1"] == 2 && counter["h2"] == 3 && counter["ok"] == 1)
    }

    @Test("C5 three Send workers interrupt with three ids; one map finishes the fan-out", arguments: Backend.allCases)
    func c5(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("worker") { state in
                let name = state.v.first ?? "?"
                counter.hit(name)
                let answer: String = try await interrupt("ask \(name)")
                return .update(\.v, ["\(name):\(answer)"])
            }
            graph.addConditionalEdges(START, destinations: ["worker"]) { _ in
                ["w1", "w2", "w3"].map { Goto.send(Send("worker", ListState(v: [$0]))) }
            }
        }
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.interrupts.count == 3)
        #expect(Set(paused.interrupts.map(\.id)).count == 3)
        var answers: [String: JSONValue] = [:]
        for interrupt in paused.interrupts {
            answers[interrupt.id] = .string("ok-" + (interrupt.value.stringValue ?? "").dropFirst(4))
        }
        let done = try await h.app.resume(thread: thread, answers: answers)
        #expect(done.status == .completed)
        #expect(done.values.v == ["w1:ok-w1", "w2:ok-w2", "w3:ok-w3"])
        for name in ["w1", "w2", "w3"] { #expect(counter[name] == 2, "\(name) ran \(counter[name]) times") }
    }
}
