import Foundation
import Interlude
import Testing

struct PlanState: GraphState, Equatable {
    var plan: [String] = []
    var v: [String] = []
    static let channels: [Channel<PlanState>] = [.value("plan", \.plan), .append("v", \.v)]
}

@Suite("I. Command", .tags(.conformance), .timeLimit(.minutes(1)))
struct CommandTests {
    @Test("I1 Command(resume:update:goto:) applies the update, resumes, and runs the goto node in the same superstep", arguments: Backend.allCases)
    func i1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("x1", appendName("x1", counter))
            graph.addNode("x2", destinations: ["x3"]) { state in
                counter.hit("x2")
                let answer: String = try await interrupt("q")
                return .update(\.v, [answer])
            }
            graph.addNode("x3", appendName("x3", counter))
            graph.addEdge(START, "x1")
            graph.addEdge("x1", "x2")
        }
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.values.v == ["x1"])
        let before = try await h.history(thread).count
        let done = try await h.app.invoke(try Command(resume: "R", update: .append(\.v, "U"), goto: ["x3"]), thread: thread)
        #expect(done.status == .completed)
        #expect(done.values.v == ["x1", "U", "R", "x3"])
        #expect(try await h.history(thread).count == before + 1, "x2 and x3 ran in one superstep")
        #expect(counter["x3"] == 1 && counter["x1"] == 1 && counter["x2"] == 2)
    }

    @Test("I2 a node returning Command(goto:update:) routes dynamically through a plan", arguments: Backend.allCases)
    func i2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<PlanState>(backend) { graph in
            graph.addNode("planner", destinations: ["search", "write", "review"]) { state in
                counter.hit("planner")
                let done = state.v.filter { $0 != "planned" }.count
                guard done < state.plan.count else { return .goto(END) }
                return .goto(state.plan[done], update: Update.append(\.v, "planned"))
            }
            for step in ["search", "write", "review"] {
                graph.addNode(step) { _ in counter.hit(step); return .update(\.v, [step]) }
                graph.addEdge(step, "planner")
            }
            graph.addEdge(START, "planner")
        }
        let result = try await h.app.invoke(PlanState(plan: ["search", "write", "search"]), thread: newThread())
        #expect(result.status == .completed)
        #expect(result.values.v == ["planned", "search", "planned", "write", "planned", "search"])
        #expect(counter["planner"] == 4 && counter["search"] == 2 && counter["write"] == 1 && counter["review"] == 0)
    }

    @Test("I3 an empty Command or a resume with no value fails with an empty command error", arguments: Backend.allCases)
    func i3(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try InterruptTests.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        _ = try await app.invoke(ListState(), thread: thread)
        let empties: [Command<ListState>] = [
            Command(), Command(resume: .value(.null)), try Command(resume: String?.none), Command(resumeByID: [:]),
        ]
        for command in empties {
            let error = await #expect(throws: GraphError.self) { try await app.invoke(command, thread: thread) }
            #expect(error?.code == .emptyCommand)
            #expect(error?.message.contains("empty") == true)
        }
        #expect(counter["ask"] == 1)
        #expect(try await app.getState(thread: thread)?.next == ["ask"])
    }

    @Test("I4 a resume map naming an id that is not pending fails naming it and the pending ids; nothing runs", arguments: Backend.allCases)
    func i4(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await ParallelInterruptTests.fanOut(backend, counter)
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        let ids = ParallelInterruptTests.ids(paused.interrupts)
        let head = try await h.state(thread).checkpointID
        let error = await #expect(throws: GraphError.self) {
            try await h.app.resume(thread: thread, answers: [ids.q1: "A1", "no-such-id": "x"])
        }
        #expect(error?.code == .unknownInterrupt)
        #expect(error?.message.contains("no-such-id") == true)
        #expect(error?.message.contains(ids.q1) == true)
        #expect(error?.message.contains(ids.q2) == true)
        #expect(counter["h1"] == 1 && counter["h2"] == 1 && counter["ok"] == 1)
        let state = try await h.state(thread)
        #expect(state.checkpointID == head)
        #expect(state.next == ["h1", "h2"])
        // The valid half of the refused map was not recorded either.
        let again = try await h.app.resume(thread: thread, answers: [ids.q2: "A2"])
        #expect(again.interrupts.map(\.id) == [ids.q1])
    }
}
