import Foundation
import Interlude
import Testing

/// Two append lists: `v` for what the test overwrites, `notes` for what it does not.
struct NotesState: GraphState, Equatable {
    var v: [String] = []
    var notes: [String] = []
    static let channels: [Channel<NotesState>] = [.append("v", \.v), .append("notes", \.notes)]
}

/// A `Send` payload that is not the graph's state.
struct Essay: Codable, Sendable, Equatable {
    var title: String
    var words: Int
}

struct GradeState: GraphState, Equatable {
    var titles: [String] = []
    var grades: [String] = []
    static let channels: [Channel<GradeState>] = [.value("titles", \.titles), .append("grades", \.grades)]
}

/// Issue 9's missing features: `Overwrite`, join edges, typed `Send` payloads.
@Suite("N. Overwrite, join edges, typed Send payloads", .tags(.conformance), .serialized, .timeLimit(.minutes(1)))
struct GraphFeatureTests {
    @Test("N1 Overwrite bypasses the reducer (earlier writes of the step lost, later ignored); two in one step fail naming the field", arguments: Backend.allCases)
    func n1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<NotesState>(backend) { graph in
            graph.addNode("a") { _ in .update(.append(\.v, "a")) }
            graph.addNode("b") { _ in .update(.overwrite(\.v, ["reset"])) }
            graph.addNode("c") { _ in .update(.append(\.v, "c")) }
            for name in ["a", "b", "c"] { graph.addEdge(START, name) }
        }
        let done = try await h.app.invoke(NotesState(v: ["in"]), thread: newThread())
        #expect(done.values.v == ["reset"])

        // Kept as a pending write while a sibling is paused, and still an overwrite on resume.
        let p = try await Harness<NotesState>(backend) { graph in
            graph.addNode("h") { _ in
                counter.hit("h")
                let answer: String = try await interrupt("q")
                return .update(.append(\.notes, "h:\(answer)"))
            }
            graph.addNode("w") { _ in counter.hit("w"); return .update(.overwrite(\.v, ["reset"])) }
            graph.addEdge(START, "h")
            graph.addEdge(START, "w")
        }
        let thread = newThread()
        _ = try await p.app.invoke(NotesState(v: ["in"]), thread: thread)
        let resumed = try await p.app.resume(thread: thread, with: "x")
        #expect(resumed.values == NotesState(v: ["reset"], notes: ["h:x"]))
        #expect(counter["w"] == 1)

        // updateState can overwrite too.
        try await p.app.updateState(thread: thread, values: .overwrite(\.notes, []), asNode: "w")
        #expect(try await p.state(thread).values.notes == [])

        // Two overwrites of one field in one step.
        let twice = try await Harness<NotesState>(backend) { graph in
            graph.addNode("a") { _ in .update(.overwrite(\.v, ["a"])) }
            graph.addNode("b") { _ in .update(.overwrite(\.v, ["b"])) }
            graph.addEdge(START, "a")
            graph.addEdge(START, "b")
        }
        let error = await #expect(throws: GraphError.self) { try await twice.app.invoke(NotesState(), thread: newThread()) }
        #expect(error?.code == .invalidUpdate)
        #expect(error?.message.contains("field 'v' received 2 Overwrite writes") == true)
    }

    /// START -> a -> a2, START -> b (asks "q"), [a2, b] -> join.
    static func joinGraph(_ backend: Backend, _ counter: RunCounter) async throws -> Harness<ListState> {
        try await Harness<ListState>(backend) { graph in
            graph.addNode("a", appendName("a", counter))
            graph.addNode("a2", appendName("a2", counter))
            graph.addNode("b", askAndAppend("b", "q", counter))
            graph.addNode("join", appendName("join", counter))
            graph.addEdge(START, "a")
            graph.addEdge(START, "b")
            graph.addEdge("a", "a2")
            graph.addEdge(["a2", "b"], "join")
        }
    }

    @Test("N2 a join edge runs its node once, after every source finished, with an interrupt in one branch; resume, replay and edits keep the barrier", arguments: Backend.allCases)
    func n2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.joinGraph(backend, counter)
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.next == ["b"])
        #expect(counter["join"] == 0)
        let done = try await h.app.resume(thread: thread, with: "x")
        #expect(done.status == .completed)
        #expect(done.values.v == ["a", "b:x", "a2", "join"])
        #expect(counter["join"] == 1 && counter["a"] == 1 && counter["a2"] == 1)

        // Replay from the checkpoint where only b had reached the barrier.
        let history = try await h.history(thread)
        let halfway = try #require(history.first { $0.next == ["a2"] })
        let replay = try await h.app.invoke(thread: thread, config: RunConfig(checkpointID: halfway.checkpointID))
        #expect(replay.values.v == ["a", "b:x", "a2", "join"])
        #expect(counter["join"] == 2 && counter["a2"] == 2 && counter["b"] == 2)

        // Edits count toward the barrier as the node they are attributed to.
        let edited = newThread()
        _ = try await h.app.invoke(ListState(), thread: edited)
        try await h.app.updateState(thread: edited, values: .append(\.v, "B"), asNode: "b")
        #expect(try await h.state(edited).next == [], "the edit replaced the pending step; only b's barrier write is left")
        try await h.app.updateState(thread: edited, values: nil, asNode: "a2")
        #expect(try await h.state(edited).next == ["join"])
        let joined = try await h.app.invoke(thread: edited)
        #expect(joined.values.v == ["a", "B", "join"])
    }

    @Test("N3 a Send target may take a payload of its own type; a Send carrying another type fails naming both", arguments: Backend.allCases)
    func n3(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<GradeState>(backend) { graph in
            graph.addNode("fan", destinations: ["grade"]) { state in
                .goto(state.titles.enumerated().map { .send(Send("grade", payload: Essay(title: $0.element, words: ($0.offset + 1) * 100))) })
            }
            graph.addNode("grade", payload: Essay.self) { essay, context in
                counter.hit("grade")
                if essay.words > 150 {
                    let ok: Bool = try context.interrupt("long essay '\(essay.title)'?")
                    return .update(.append(\.grades, ok ? "\(essay.title):long-ok" : "\(essay.title):too-long"))
                }
                return .update(.append(\.grades, "\(essay.title):\(essay.words)"))
            }
            graph.addEdge(START, "fan")
        }
        let thread = newThread()
        let paused = try await h.app.invoke(GradeState(titles: ["one", "two"]), thread: thread)
        #expect(paused.interrupts.map(\.value) == ["long essay 'two'?"])
        let done = try await h.app.resume(thread: thread, with: true)
        #expect(done.values.grades == ["one:100", "two:long-ok"])
        #expect(counter["grade"] == 3)

        let wrong = try await Harness<GradeState>(backend) { graph in
            graph.addNode("fan", destinations: ["grade"]) { state in .goto([.send(Send("grade", state))]) }
            graph.addNode("grade", payload: Essay.self) { _, _ in .none }
            graph.addEdge(START, "fan")
        }
        let error = await #expect(throws: GraphError.self) { try await wrong.app.invoke(GradeState(), thread: newThread()) }
        #expect(error?.message.contains("carries a GradeState, but 'grade' takes a Essay") == true)
    }
}
