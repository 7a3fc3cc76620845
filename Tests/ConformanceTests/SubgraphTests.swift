import Foundation
import Interlude
import Testing

/// A state with last-value fields only, for a subgraph that keeps its own thread.
struct TurnState: GraphState, Equatable {
    var last = ""
    var turns = 0
    static let channels: [Channel<TurnState>] = [.value("last", \.last), .value("turns", \.turns)]
}

@Suite("J. Subgraphs", .tags(.conformance), .serialized, .timeLimit(.minutes(1)))
struct SubgraphTests {
    /// Parent START -> p1 -> child -> p2; child START -> c1 -> ask -> c2, where `ask` is
    /// given by `ask`.
    static func nested(
        _ backend: Backend, _ counter: RunCounter,
        ask: @escaping @Sendable (ListState) async throws -> Command<ListState>
    ) async throws -> Harness<ListState> {
        var child = StateGraph<ListState>()
        child.addNode("c1", appendName("c1", counter))
        child.addNode("ask", ask)
        child.addNode("c2", appendName("c2", counter))
        child.addEdge(START, "c1")
        child.addEdge("c1", "ask")
        child.addEdge("ask", "c2")
        let compiledChild = try child.compile(name: "child")
        return try await around(backend, counter, node: "child") { $0.addSubgraph("child", compiledChild) }
    }

    /// A parent START -> p1 -> `node` -> p2 over `ListState`, where `add` adds `node`.
    static func around(
        _ backend: Backend, _ counter: RunCounter, node: String, add: (inout StateGraph<ListState>) -> Void
    ) async throws -> Harness<ListState> {
        try await Harness<ListState>(backend) { graph in
            graph.addNode("p1", appendName("p1", counter))
            add(&graph)
            graph.addNode("p2", appendName("p2", counter))
            graph.addEdge(START, "p1")
            graph.addEdge("p1", node)
            graph.addEdge(node, "p2")
        }
    }

    @Test("J1 a subgraph's interrupt reaches the parent with the same id and its namespace; a resume (by value or id) finishes it without re-running earlier nodes; replay asks again", arguments: Backend.allCases)
    func j1(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.nested(backend, counter, ask: askAndAppend("ask", "q", counter))
        let (thread, paused, question, namespace, state) = try await Self.pauseAtSubgraph(h, node: "child", asking: "q")
        let inner = try #require(state.subgraphs[namespace])
        #expect(inner.interrupts.map(\.id) == [question.id], "the parent shows the child's interrupt under the same id")
        #expect(inner.values.v == ["p1", "c1"])
        #expect(inner.next == ["ask"])

        let done = try await h.app.resume(thread: thread, with: "A")
        #expect(done.status == .completed)
        #expect(done.values.v == ["p1", "c1", "ask:A", "c2", "p2"])
        #expect(counter["p1"] == 1 && counter["c1"] == 1 && counter["ask"] == 2 && counter["c2"] == 1 && counter["p2"] == 1)
        try await Self.byIDAndReplay(h, thread: thread, paused: paused, question: question, done: done, replayed: ["p1", "c1", "ask:B", "c2", "p2"])
        #expect(counter["p1"] == 2, "p1 ran once per thread; the replay did not re-run it")
    }

    /// Invokes `h` on a new thread and checks the pause at the subgraph node `node`: one
    /// question `value` whose namespace is `node:<task id>`, shown by `getState` as the
    /// parent's pending interrupt, with the subgraph states loaded.
    static func pauseAtSubgraph(
        _ h: Harness<ListState>, node: String, asking value: JSONValue
    ) async throws -> (thread: String, paused: RunResult<ListState>, question: Interrupt, namespace: String, state: StateSnapshot<ListState>) {
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.status == .interrupted)
        let question = try #require(paused.interrupts.first)
        #expect(question.value == value)
        let namespace = try #require(question.namespace)
        #expect(namespace.hasPrefix("\(node):"))
        let state = try #require(try await h.app.getState(thread: thread, subgraphs: true))
        #expect(state.next == [node])
        #expect(state.interrupts.map(\.id) == [question.id])
        let head = try #require(try await h.checkpointer.checkpoint(thread: thread, id: nil))
        #expect(head.subgraphNamespaces == [question.id: namespace], "a stored checkpoint gives the namespace by interrupt id")
        return (thread, paused, question, namespace, state)
    }

    /// After `thread` finished as `done` with the answer "A": answering by id on another thread
    /// gives the same result, and replaying `paused` asks the question again under a new id
    /// (the subgraph runs in a new invocation); answering "B" then gives `replayed`.
    static func byIDAndReplay(
        _ h: Harness<ListState>, thread: String, paused: RunResult<ListState>, question: Interrupt, done: RunResult<ListState>, replayed: [String]
    ) async throws {
        let other = newThread()
        let second = try await h.app.invoke(ListState(), thread: other)
        let byID = try await h.app.resume(thread: other, answers: [try #require(second.interrupts.first?.id): "A"])
        #expect(byID.values == done.values)

        let replay = try await h.app.invoke(thread: thread, config: RunConfig(checkpointID: paused.checkpointID))
        #expect(replay.status == .interrupted)
        #expect(replay.interrupts.map(\.value) == [question.value])
        #expect(replay.interrupts.first?.id != question.id)
        let again = try await h.app.resume(thread: thread, with: "B")
        #expect(again.values.v == replayed)
        try await verifyIntegrity(h.checkpointer)
    }

    /// A node that asks q1 then q2 and appends "ask:<first>,<second>".
    static func askTwice(_ counter: RunCounter) -> @Sendable (ListState) async throws -> Command<ListState> {
        { _ in
            counter.hit("ask")
            let first: String = try await interrupt("q1")
            let second: String = try await interrupt("q2")
            return .update(\.v, ["ask:\(first),\(second)"])
        }
    }

    @Test("J2 a subgraph asking two questions in turn is resumed by two plain resumes", arguments: Backend.allCases)
    func j2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.nested(backend, counter, ask: Self.askTwice(counter))
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        #expect(paused.interrupts.map(\.value) == ["q1"])
        let next = try await h.app.resume(thread: thread, with: "A")
        #expect(next.interrupts.map(\.value) == ["q2"])
        #expect(next.interrupts.first?.id != paused.interrupts.first?.id)
        let done = try await h.app.resume(thread: thread, with: "B")
        #expect(done.status == .completed)
        #expect(done.values.v == ["p1", "c1", "ask:A,B", "c2", "p2"])
        #expect(counter["c1"] == 1 && counter["ask"] == 3)
    }

    @Test("J4 editing the parent while a subgraph waits replaces the pending step: the subgraph runs again in a new invocation and asks again", arguments: Backend.allCases)
    func j4(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.nested(backend, counter, ask: askAndAppend("ask", "q", counter))
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        try await h.app.updateState(thread: thread, values: .append(\.v, "edit"), asNode: "p1")
        let state = try await h.state(thread)
        #expect(state.next == ["child"])
        #expect(state.interrupts.isEmpty)
        let again = try await h.app.invoke(thread: thread)
        #expect(again.interrupts.map(\.value) == ["q"])
        #expect(again.interrupts.first?.id != paused.interrupts.first?.id)
        #expect(again.interrupts.first?.namespace != paused.interrupts.first?.namespace)
        let done = try await h.app.resume(thread: thread, with: "x")
        #expect(done.values.v == ["p1", "edit", "c1", "ask:x", "c2", "p2"])
        #expect(counter["p1"] == 1 && counter["c1"] == 2)
    }

    @Test("J3 a subgraph checkpoints per invocation by default, or keeps one thread across calls (checkpointer=True)", arguments: Backend.allCases)
    func j3(backend: Backend) async throws {
        var child = StateGraph<TurnState>()
        child.addNode("turn") { state in
            let answer: String = try await interrupt("turn \(state.turns + 1)?")
            return .update(Update.set(\.last, answer).set(\.turns, state.turns + 1))
        }
        child.addEdge(START, "turn")
        let compiledChild = try child.compile(name: "turns")
        for persistence in [SubgraphPersistence.perInvocation, .thread] {
            let h = try await Harness<TurnState>(backend) { graph in
                graph.addSubgraph("inner", compiledChild, persistence: persistence)
                graph.addEdge(START, "inner")
            }
            let thread = newThread()
            var namespaces: [String] = []
            for answer in ["A", "B"] {
                let paused = try await h.app.invoke(TurnState(), thread: thread)
                namespaces.append(try #require(paused.interrupts.first?.namespace))
                let done = try await h.app.resume(thread: thread, with: answer)
                #expect(done.values.last == answer)
            }
            let histories = try await namespaces.asyncMap {
                try await compiledChild.withCheckpointer(h.checkpointer).stateHistory(thread: CompiledGraph<TurnState>.subgraphThread(parent: thread, namespace: $0)).count
            }
            switch persistence {
            case .perInvocation:
                #expect(namespaces[0] != namespaces[1], "each invocation has its own namespace")
                #expect(histories[0] == histories[1], "each child thread holds one run")
            case .thread:
                #expect(namespaces == ["inner", "inner"])
                #expect(histories[1] > 3, "one child thread holds both runs")
            }
        }
    }
}

/// A subgraph's own state, unlike its parent's (`ListState`): a topic in, an answer out.
struct FormState: GraphState, Equatable {
    var topic = ""
    var answer = ""
    var steps: [String] = []
    static let channels: [Channel<FormState>] = [.value("topic", \.topic), .value("answer", \.answer), .append("steps", \.steps)]
}

/// An append-only log, the state of a subgraph that keeps one thread across calls.
struct SeenState: GraphState, Equatable {
    var seen: [String] = []
    static let channels: [Channel<SeenState>] = [.append("seen", \.seen)]
}

extension SubgraphTests {
    /// Parent START -> p1 -> form -> p2 over `ListState`; `form` runs a subgraph over
    /// `FormState` (START -> c1 -> ask): the input maps the parent's list to a topic, the output
    /// appends `form:<answer>`.
    static func mapped(_ backend: Backend, _ counter: RunCounter) async throws -> Harness<ListState> {
        var child = StateGraph<FormState>()
        child.addNode("c1") { _ in
            counter.hit("c1")
            return .update(.append(\.steps, "c1"))
        }
        child.addNode("ask") { state in
            counter.hit("ask")
            let answer: String = try await interrupt("about \(state.topic)?")
            return .update(Update.set(\.answer, answer).append(\.steps, "ask"))
        }
        child.addEdge(START, "c1")
        child.addEdge("c1", "ask")
        let compiledChild = try child.compile(name: "form")
        return try await around(backend, counter, node: "form") { graph in
            graph.addSubgraph(
                "form", compiledChild,
                input: { state in
                    counter.hit("input")
                    return FormState(topic: state.v.joined(separator: ","))
                },
                output: { child in .append(\.v, "form:\(child.answer)") })
        }
    }

    @Test("J5 a subgraph with another state type: its question reaches the parent with its namespace, getState shows the child's own state, a resume by value or id maps the output back, replay asks again", arguments: Backend.allCases)
    func j5(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.mapped(backend, counter)
        let (thread, paused, question, namespace, state) = try await Self.pauseAtSubgraph(h, node: "form", asking: "about p1?")
        #expect(state.subgraphNamespaces == [namespace])
        #expect(state.subgraphs.isEmpty, "the same-type map holds no child of another type")
        #expect(state.subgraph(namespace, as: ListState.self) == nil)
        let inner = try #require(state.subgraph(namespace, as: FormState.self))
        #expect(inner.values == FormState(topic: "p1", answer: "", steps: ["c1"]))
        #expect(inner.next == ["ask"])
        #expect(inner.interrupts.map(\.id) == [question.id])

        let done = try await h.app.resume(thread: thread, with: "A")
        #expect(done.status == .completed)
        #expect(done.values.v == ["p1", "form:A", "p2"])
        #expect(counter["p1"] == 1 && counter["c1"] == 1 && counter["ask"] == 2 && counter["p2"] == 1)
        #expect(counter["input"] == 1, "the input mapping starts the child once; the resume continues it")
        let child = try #require(try await h.app.getState(thread: thread, subgraphs: true)).subgraphNamespaces
        #expect(child.isEmpty, "nothing pending, so no subgraph state is loaded")
        try await Self.byIDAndReplay(h, thread: thread, paused: paused, question: question, done: done, replayed: ["p1", "form:B", "p2"])
        #expect(counter["p1"] == 2, "p1 ran once per thread; the replay did not re-run it")
    }

    @Test("J6 editing the parent while a subgraph of another type waits: the edit reaches the child's input in a new invocation, which asks again", arguments: Backend.allCases)
    func j6(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Self.mapped(backend, counter)
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread)
        try await h.app.updateState(thread: thread, values: .append(\.v, "edit"), asNode: "p1")
        let again = try await h.app.invoke(thread: thread)
        #expect(again.interrupts.map(\.value) == ["about p1,edit?"])
        #expect(again.interrupts.first?.id != paused.interrupts.first?.id)
        let done = try await h.app.resume(thread: thread, with: "x")
        #expect(done.values.v == ["p1", "edit", "form:x", "p2"])
        #expect(counter["p1"] == 1 && counter["c1"] == 2 && counter["input"] == 2)
    }

    @Test("J7 a subgraph of another type that keeps one thread (checkpointer=True) accumulates its own state across calls", arguments: Backend.allCases)
    func j7(backend: Backend) async throws {
        var child = StateGraph<SeenState>()
        child.addNode("ask") { _ in
            let answer: String = try await interrupt("next?")
            return .update(.append(\.seen, answer))
        }
        child.addEdge(START, "ask")
        let compiledChild = try child.compile(name: "seen")
        let h = try await Harness<ListState>(backend) { graph in
            graph.addSubgraph(
                "inner", compiledChild, input: { _ in SeenState(seen: ["call"]) },
                output: { child in .append(\.v, child.seen.joined(separator: ",")) }, persistence: .thread)
            graph.addEdge(START, "inner")
        }
        let thread = newThread()
        var results: [[String]] = []
        for answer in ["A", "B"] {
            let paused = try await h.app.invoke(ListState(), thread: thread)
            #expect(paused.interrupts.first?.namespace == "inner")
            results.append(try await h.app.resume(thread: thread, with: answer).values.v)
        }
        #expect(results == [["call,A"], ["call,A", "call,A,call,B"]], "the second call's input is appended to the child's own state")
        let inner = try await compiledChild.withCheckpointer(h.checkpointer).getState(thread: CompiledGraph<SeenState>.subgraphThread(parent: thread, namespace: "inner"))
        #expect(inner?.values.seen == ["call", "A", "call", "B"])
    }
}

extension SubgraphTests {
    @Test("J8 a static breakpoint compiled into a subgraph (before or after a node) pauses the parent without a question; getState shows the child stopped there; a plain continue resumes the child; replay stops there again", arguments: Backend.allCases)
    func j8(backend: Backend) async throws {
        for (before, after) in [(["c2"], [String]()), ([], ["c1"])] {
            let counter = RunCounter()
            var child = StateGraph<ListState>()
            child.addNode("c1", appendName("c1", counter))
            child.addNode("c2", appendName("c2", counter))
            child.addEdge(START, "c1")
            child.addEdge("c1", "c2")
            let compiledChild = try child.compile(name: "child", interruptBefore: before, interruptAfter: after)
            let h = try await Self.around(backend, counter, node: "child") { $0.addSubgraph("child", compiledChild) }
            let thread = newThread()
            let paused = try await h.app.invoke(ListState(), thread: thread)
            #expect(paused.status == .interrupted)
            #expect(paused.interrupts.isEmpty, "a breakpoint asks no question")
            #expect(paused.next == ["child"])
            #expect(paused.values.v == ["p1"])
            let state = try #require(try await h.app.getState(thread: thread, subgraphs: true))
            #expect(state.interrupts.isEmpty)
            #expect(state.next == ["child"])
            let namespace = try #require(state.subgraphNamespaces.first)
            #expect(namespace.hasPrefix("child:"))
            let inner = try #require(state.subgraphs[namespace])
            #expect(inner.next == ["c2"])
            #expect(inner.values.v == ["p1", "c1"])

            let done = try await h.app.invoke(thread: thread)
            #expect(done.status == .completed)
            #expect(done.values.v == ["p1", "c1", "c2", "p2"])
            #expect(counter["p1"] == 1 && counter["c1"] == 1 && counter["c2"] == 1 && counter["p2"] == 1)

            let replay = try await h.app.invoke(thread: thread, config: RunConfig(checkpointID: paused.checkpointID))
            #expect(replay.status == .interrupted && replay.interrupts.isEmpty && replay.next == ["child"])
            #expect(try await h.app.invoke(thread: thread).values.v == ["p1", "c1", "c2", "p2"])
            #expect(counter["p1"] == 1 && counter["c1"] == 2, "the replay runs the child in a new invocation, which stops at its breakpoint again")
            try await verifyIntegrity(h.checkpointer)
        }
    }
}

extension SubgraphTests {
    @Test("J9 a resume value given with nothing pending answers the subgraph's first question: at the parent's breakpoint before the subgraph, at the subgraph's own breakpoint; used once", arguments: Backend.allCases)
    func j9(backend: Backend) async throws {
        // At the parent's breakpoint before the subgraph node: the subgraph starts and its
        // question takes the value, so the asking node runs once.
        let counter = RunCounter()
        let h = try await Self.nested(backend, counter, ask: askAndAppend("ask", "q", counter))
        let thread = newThread()
        let paused = try await h.app.invoke(ListState(), thread: thread, config: RunConfig(interruptBefore: ["child"]))
        #expect(paused.next == ["child"] && paused.interrupts.isEmpty)
        let done = try await h.app.resume(thread: thread, with: "A")
        #expect(done.status == .completed)
        #expect(done.values.v == ["p1", "c1", "ask:A", "c2", "p2"])
        #expect(counter["ask"] == 1 && counter["c1"] == 1)

        // Two questions: the value answers the first only; the second is asked.
        let twice = RunCounter()
        let two = try await Self.nested(backend, twice, ask: Self.askTwice(twice))
        let other = newThread()
        _ = try await two.app.invoke(ListState(), thread: other, config: RunConfig(interruptBefore: ["child"]))
        let next = try await two.app.resume(thread: other, with: "A")
        #expect(next.interrupts.map(\.value) == ["q2"], "the value answered q1 and was used once")
        #expect(next.interrupts.first?.namespace?.hasPrefix("child:") == true)
        let finished = try await two.app.resume(thread: other, with: "B")
        #expect(finished.values.v == ["p1", "c1", "ask:A,B", "c2", "p2"])

        // At the subgraph's own breakpoint before its asking node.
        let inner = RunCounter()
        var child = StateGraph<ListState>()
        child.addNode("c1", appendName("c1", inner))
        child.addNode("ask", askAndAppend("ask", "q", inner))
        child.addEdge(START, "c1")
        child.addEdge("c1", "ask")
        let compiledChild = try child.compile(name: "child", interruptBefore: ["ask"])
        let b = try await Harness<ListState>(backend) { graph in
            graph.addSubgraph("child", compiledChild)
            graph.addEdge(START, "child")
        }
        let third = newThread()
        let atBreakpoint = try await b.app.invoke(ListState(), thread: third)
        #expect(atBreakpoint.status == .interrupted && atBreakpoint.interrupts.isEmpty)
        let answered = try await b.app.resume(thread: third, with: "C")
        #expect(answered.status == .completed)
        #expect(answered.values.v == ["c1", "ask:C"])
        #expect(inner["ask"] == 1 && inner["c1"] == 1)
        try await verifyIntegrity(b.checkpointer)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
