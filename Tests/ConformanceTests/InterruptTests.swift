import Foundation
import Interlude
import Testing

@Suite("A. Interrupt and resume", .tags(.conformance), .timeLimit(.minutes(1)))
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

    /// A thread of the A1 graph that paused on "q" and was resumed with "hello" to the end.
    static func answeredThread(_ backend: Backend, _ counter: RunCounter) async throws -> (
        app: CompiledGraph<ListState>, checkpointer: any Checkpointer, thread: String, paused: RunResult<ListState>
    ) {
        let checkpointer = try await backend.make()
        let app = try askGraph(counter, checkpointer: checkpointer)
        let thread = newThread()
        let paused = try await app.invoke(ListState(), thread: thread)
        _ = try await app.resume(thread: thread, with: "hello")
        return (app, checkpointer, thread, paused)
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

    @Test("A3 nodes before the interrupted one never run again on resume", arguments: Backend.allCases)
    func a3(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("first", appendName("first", counter))
            graph.addNode("second", appendName("second", counter))
            graph.addNode("ask", askAndAppend("ask", "q", counter))
            graph.addEdge(START, "first")
            graph.addEdge("first", "second")
            graph.addEdge("second", "ask")
        }
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        let done = try await h.app.resume(thread: thread, with: "yes")
        #expect(done.values.v == ["first", "second", "ask:yes"])
        #expect(counter["first"] == 1)
        #expect(counter["second"] == 1)
        #expect(counter["ask"] == 2)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("A4 without a checkpointer an interrupt still pauses and reports, but resume needs a checkpointer")
    func a4NoCheckpointer() async throws {
        let counter = RunCounter()
        let app = try Self.askGraph(counter, checkpointer: nil)
        let result = try await app.invoke(ListState())
        #expect(result.status == .interrupted)
        #expect(result.interrupts.map(\.value) == ["q"])
        #expect(result.checkpointID == nil)
        let error = await #expect(throws: GraphError.self) { try await app.resume(thread: "any", with: "hello") }
        #expect(error?.code == .checkpointerRequired)
        #expect(error?.message.contains("checkpointer") == true)
        #expect(counter["ask"] == 1)
    }

    @Test("A4 with a checkpointer but no thread id the call fails at once, naming the thread id", arguments: Backend.allCases)
    func a4NoThread(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try Self.askGraph(counter, checkpointer: try await backend.make())
        let error = await #expect(throws: GraphError.self) { try await app.invoke(ListState()) }
        #expect(error?.code == .threadIDRequired)
        #expect(error?.message.contains("thread id") == true)
        #expect(counter["a"] == 0)
    }

    @Test("A5 a node with a retry policy that interrupts is not retried", arguments: Backend.allCases)
    func a5(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("ask", retry: RetryPolicy(maxAttempts: 5), askAndAppend("ask", "q", counter))
            graph.addEdge(START, "ask")
        }
        let thread = newThread()
        let result = try await h.app.invoke(ListState(), thread: thread)
        #expect(result.interrupts.count == 1)
        #expect(counter["ask"] == 1)
        let done = try await h.app.resume(thread: thread, with: "ok")
        #expect(done.values.v == ["ask:ok"])
        #expect(counter["ask"] == 2)
    }

    @Test("A6 a validation loop re-asks until the answer is valid", arguments: Backend.allCases)
    func a6(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<AgeState>(backend) { graph in
            graph.addNode("ask_age") { _ in
                counter.hit("ask_age")
                var question = "How old are you?"
                while true {
                    let answer: String = try await interrupt(question)
                    if let age = Int(answer), age >= 18 { return .update(\.age, age) }
                    question = "'\(answer)' is not a valid age (must be 18 or more). How old are you?"
                }
            }
            graph.addEdge(START, "ask_age")
        }
        let thread = newThread()
        let first = try await h.app.invoke(AgeState(), thread: thread)
        #expect(first.interrupts.map(\.value) == ["How old are you?"])
        let second = try await h.app.resume(thread: thread, with: "13")
        #expect(second.status == .interrupted)
        #expect(second.interrupts.count == 1)
        #expect(second.interrupts.first?.value.stringValue?.contains("'13' is not a valid age") == true)
        let third = try await h.app.resume(thread: thread, with: "15")
        #expect(third.interrupts.first?.value.stringValue?.contains("'15' is not a valid age") == true)
        let ids = [first, second, third].compactMap { $0.interrupts.first?.id }
        #expect(Set(ids).count == 3, "every question has its own id, got \(ids)")
        let done = try await h.app.resume(thread: thread, with: "19")
        #expect(done.status == .completed)
        #expect(done.values.age == 19)
        #expect(counter["ask_age"] == 4)
    }

    @Test("A7 a node that swallows the interrupt signal is still interrupted", arguments: Backend.allCases)
    func a7(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("sneaky") { _ in
                counter.hit("sneaky")
                var answer = "none"
                do { answer = try await interrupt("q") } catch {}
                return .update(\.v, ["sneaky:\(answer)"])
            }
            graph.addNode("after", appendName("after", counter))
            graph.addEdge(START, "sneaky")
            graph.addEdge("sneaky", "after")
        }
        let thread = newThread()
        let result = try await h.app.invoke(ListState(), thread: thread)
        #expect(result.status == .interrupted)
        #expect(result.interrupts.map(\.value) == ["q"])
        #expect(result.values.v == [])
        #expect(counter["after"] == 0)
        let state = try await h.state(thread)
        #expect(state.next == ["sneaky"])
        #expect(state.values.v == [])
        let done = try await h.app.resume(thread: thread, with: "yes")
        #expect(done.values.v == ["sneaky:yes", "after"])
    }

    @Test("A8 a conditional interrupt pauses only below the confidence threshold", arguments: Backend.allCases)
    func a8(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ReviewState>(backend) { graph in
            graph.addNode("review") { state in
                counter.hit("review")
                guard state.confidence < 0.8 else { return .update(\.decision, "auto") }
                let proceed: Bool = try await interrupt("confidence \(state.confidence): proceed?")
                return .update(\.decision, proceed ? "proceed" : "stop")
            }
            graph.addEdge(START, "review")
        }
        let sure = newThread()
        let high = try await h.app.invoke(ReviewState(confidence: 0.9), thread: sure)
        #expect(high.status == .completed)
        #expect(high.interrupts.isEmpty)
        #expect(high.values.decision == "auto")

        for (answer, expected) in [(true, "proceed"), (false, "stop")] {
            let thread = newThread()
            let low = try await h.app.invoke(ReviewState(confidence: 0.5), thread: thread)
            #expect(low.status == .interrupted)
            #expect(low.interrupts.count == 1)
            let done = try await h.app.resume(thread: thread, with: answer)
            #expect(done.status == .completed)
            #expect(done.values.decision == expected)
        }
        #expect(counter["review"] == 5)
    }
}

struct AgeState: GraphState, Equatable {
    var age = 0
    static let channels: [Channel<AgeState>] = [.value("age", \.age)]
}

struct ReviewState: GraphState, Equatable {
    var confidence = 0.0
    var decision = ""
    static let channels: [Channel<ReviewState>] = [.value("confidence", \.confidence), .value("decision", \.decision)]
}
