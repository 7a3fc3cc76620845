import Foundation
import Interlude
import Testing

struct FooBarState: GraphState, Equatable {
    var foo = 0
    var bar: [String] = []
    static let channels: [Channel<FooBarState>] = [.value("foo", \.foo), .append("bar", \.bar)]
}

struct RouteState: GraphState, Equatable {
    var route = ""
    var v: [String] = []
    static let channels: [Channel<RouteState>] = [.value("route", \.route), .append("v", \.v)]
}

struct ChatState: GraphState, Equatable {
    var messages: [Message] = []
    static let channels: [Channel<ChatState>] = [.messages("messages", \.messages)]
}

@Suite("F. Editing state", .tags(.conformance), .timeLimit(.minutes(1)))
struct StateEditTests {
    @Test("F1 updateState applies values through the reducers", arguments: Backend.allCases)
    func f1(backend: Backend) async throws {
        let h = try await Harness<FooBarState>(backend) { graph in
            graph.addNode("n") { _ in .none }
            graph.addEdge(START, "n")
        }
        let thread = newThread()
        _ = try await h.app.invoke(FooBarState(foo: 1, bar: ["a"]), thread: thread)
        try await h.app.updateState(thread: thread, values: Update.set(\.foo, 2).append(\.bar, "b"))
        #expect(try await h.state(thread).values == FooBarState(foo: 2, bar: ["a", "b"]))
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("F2 asNode decides what runs next: its edges and routers run on the updated state; a pending node is skipped", arguments: Backend.allCases)
    func f2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<RouteState>(backend, interruptBefore: ["router"]) { graph in
            graph.addNode("n1") { _ in counter.hit("n1"); return .update(\.v, ["n1"]) }
            graph.addNode("router") { _ in counter.hit("router"); return .update(\.route, "right") }
            graph.addNode("left") { _ in counter.hit("left"); return .update(\.v, ["left"]) }
            graph.addNode("right") { _ in counter.hit("right"); return .update(\.v, ["right"]) }
            graph.addEdge(START, "n1")
            graph.addEdge("n1", "router")
            graph.addConditionalEdges("router", destinations: ["left", "right"]) { state in state.route }
        }
        for route in ["left", "right"] {
            let thread = newThread()
            let paused = try await h.app.invoke(RouteState(), thread: thread)
            #expect(paused.next == ["router"])
            try await h.app.updateState(thread: thread, values: .set(\.route, route), asNode: "router")
            #expect(try await h.state(thread).next == [route])
            let done = try await h.app.invoke(thread: thread)
            #expect(done.values == RouteState(route: route, v: ["n1", route]))
        }
        #expect(counter["router"] == 0, "the pending node named by asNode is skipped")

        // As a node before the pause: its edge is taken again.
        let thread = newThread()
        _ = try await h.app.invoke(RouteState(), thread: thread)
        try await h.app.updateState(thread: thread, values: .set(\.v, ["edit"]), asNode: "n1")
        #expect(try await h.state(thread).next == ["router"])
    }

    @Test("F3 updateState without asNode fails when ambiguous; an unknown node is named", arguments: Backend.allCases)
    func f3(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("p1", appendName("p1", counter))
            graph.addNode("p2", appendName("p2", counter))
            graph.addEdge(START, "p1")
            graph.addEdge(START, "p2")
        }
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        let head = try await h.state(thread).checkpointID
        let ambiguous = await #expect(throws: GraphError.self) {
            try await h.app.updateState(thread: thread, values: .append(\.v, "x"))
        }
        #expect(ambiguous?.code == .ambiguousUpdate)
        #expect(ambiguous?.message.contains("ambiguous update, name asNode") == true)
        let unknown = await #expect(throws: GraphError.self) {
            try await h.app.updateState(thread: thread, values: .append(\.v, "x"), asNode: "nope")
        }
        #expect(unknown?.code == .unknownNode)
        #expect(unknown?.message.contains("'nope'") == true)
        #expect(try await h.state(thread).checkpointID == head)
    }

    @Test("F4 an update creates a checkpoint with source update, the next step and the old head as parent", arguments: Backend.allCases)
    func f4(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try InterruptTests.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        _ = try await app.invoke(ListState(), thread: thread)
        let old = try #require(try await app.getState(thread: thread))
        let id = try await app.updateState(thread: thread, values: .append(\.v, "edit"), asNode: "a")
        let new = try #require(try await app.getState(thread: thread))
        #expect(new.checkpointID == id)
        #expect(id != old.checkpointID)
        #expect(new.source == .update)
        #expect(new.step == old.step + 1)
        #expect(new.parentCheckpointID == old.checkpointID)
        #expect(new.values.v == ["a", "edit"])
    }

    @Test("F5 updateState(nil, asNode: END) clears a paused thread and keeps finished siblings' writes", arguments: Backend.allCases)
    func f5(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await ParallelInterruptTests.fanOut(backend, counter)
        let thread = newThread()
        _ = try await h.app.invoke(ListState(), thread: thread)
        try await h.app.updateState(thread: thread, values: nil, asNode: END)
        let state = try await h.state(thread)
        #expect(state.next == [])
        #expect(state.interrupts.isEmpty)
        #expect(state.tasks.isEmpty)
        #expect(state.values.v == ["ok"])
        let error = await #expect(throws: GraphError.self) { try await h.app.resume(thread: thread, with: "late") }
        #expect(error?.code == .noPendingInterrupt || error?.code == .alreadyResolved)
        let nothing = try await h.app.invoke(thread: thread)
        #expect(nothing.status == .completed)
        #expect(counter["h1"] == 1 && counter["ok"] == 1)
    }

    @Test("F6 editing a tool call while paused before tools makes tools run the edited call", arguments: Backend.allCases)
    func f6(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ChatState>(backend, interruptBefore: ["tools"]) { graph in
            graph.addNode("agent") { _ in
                counter.hit("agent")
                let call = ToolCall(id: "c1", name: "search", arguments: ["q": "wether"])
                return .update(\.messages, [Message(id: "m1", role: .assistant, content: "", toolCalls: [call])])
            }
            graph.addNode("tools") { state in
                counter.hit("tools")
                let call = try #require(state.messages.last?.toolCalls.first)
                let query = call.arguments["q"]?.stringValue ?? ""
                return .update(\.messages, [Message(role: .tool, content: "\(call.name)(\(query))", toolCallID: call.id)])
            }
            graph.addEdge(START, "agent")
            graph.addEdge("agent", "tools")
        }
        let thread = newThread()
        let paused = try await h.app.invoke(ChatState(messages: [Message(id: "u1", role: .user, content: "weather?")]), thread: thread)
        #expect(paused.next == ["tools"])
        var edited = try #require(try await h.state(thread).values.messages.last)
        edited.toolCalls[0].name = "lookup"
        edited.toolCalls[0].arguments = ["q": "weather"]
        try await h.app.updateState(thread: thread, values: .set(\.messages, [edited]))
        #expect(try await h.state(thread).next == ["tools"])
        let done = try await h.app.invoke(thread: thread)
        #expect(done.values.messages.map(\.id) == ["u1", "m1", done.values.messages.last?.id])
        #expect(done.values.messages.last?.content == "lookup(weather)")
        #expect(done.values.messages[1].toolCalls.first?.name == "lookup")
        #expect(counter["tools"] == 1 && counter["agent"] == 1)
    }
}
