import Foundation
import Interlude
import Testing

@Suite("K. Channels, limits, durability, streaming", .tags(.conformance), .timeLimit(.minutes(1)))
struct ChannelTests {
    @Test("K1 the message-list reducer replaces by id, deletes on a remove marker and gives id-less messages an id", arguments: Backend.allCases)
    func k1(backend: Backend) async throws {
        let h = try await Harness<ChatState>(backend) { graph in
            graph.addNode("edit") { _ in
                .update(\.messages, [
                    Message(id: "m1", role: .user, content: "hello, edited"),
                    Message.remove(id: "m2"),
                    Message(role: .assistant, content: "new"),
                ])
            }
            graph.addEdge(START, "edit")
        }
        let thread = newThread()
        let input = ChatState(messages: [
            Message(id: "m1", role: .user, content: "hello"),
            Message(id: "m2", role: .assistant, content: "drop me"),
            Message(id: "m3", role: .user, content: "keep"),
        ])
        let result = try await h.app.invoke(input, thread: thread)
        let messages = result.values.messages
        #expect(messages.map(\.content) == ["hello, edited", "keep", "new"])
        #expect(messages[0].id == "m1" && messages[1].id == "m3")
        let newID = try #require(messages[2].id)
        #expect(!newID.isEmpty && !["m1", "m2", "m3"].contains(newID))
        // The assigned id is stored: reading the thread gives the same one.
        #expect(try await h.state(thread).values.messages == messages)

        // As in LangGraph's add_messages, a message written after its remove marker in the
        // same update replaces it instead of being deleted.
        let readd = try await h.app.invoke(Update.set(\.messages, [Message.remove(id: "m3"), Message(id: "m3", role: .user, content: "back")]), thread: thread)
        #expect(readd.values.messages.map(\.content) == ["hello, edited", "back", "new", "new"])
    }

    @Test("K2 the recursion limit counts supersteps per invocation, saves every checkpoint, and a higher limit finishes", arguments: Backend.allCases)
    func k2(backend: Backend) async throws {
        let counter = RunCounter()
        let h = try await Harness<ListState>(backend) { graph in
            graph.addNode("loop") { _ in counter.hit("loop"); return .update(\.v, ["x"]) }
            graph.addEdge(START, "loop")
            graph.addConditionalEdges("loop", destinations: ["loop", END]) { state in state.v.count < 8 ? "loop" : END }
        }
        let thread = newThread()
        let error = await #expect(throws: GraphError.self) {
            try await h.app.invoke(ListState(), thread: thread, config: RunConfig(recursionLimit: 3))
        }
        #expect(error?.code == .recursionLimit)
        #expect(error?.message.contains("more than 3 supersteps") == true)
        #expect(error?.message.contains("recursionLimit") == true)
        #expect(counter["loop"] == 3)
        let state = try await h.state(thread)
        #expect(state.values.v.count == 3)
        #expect(state.next == ["loop"])
        #expect(try await h.history(thread).map(\.step) == [3, 2, 1, 0, -1])

        // A new invocation counts again from zero: 3 more steps, then the limit again.
        await #expect(throws: GraphError.self) {
            try await h.app.invoke(thread: thread, config: RunConfig(recursionLimit: 3))
        }
        #expect(counter["loop"] == 6)
        let done = try await h.app.invoke(thread: thread, config: RunConfig(recursionLimit: 10))
        #expect(done.status == .completed)
        #expect(done.values.v.count == 8)
        #expect(counter["loop"] == 8)
        try await verifyIntegrity(h.checkpointer)
    }

    @Test("K3 streaming yields step updates then the interrupt; resuming yields the current state first", arguments: Backend.allCases)
    func k3(backend: Backend) async throws {
        let counter = RunCounter()
        let app = try InterruptTests.askGraph(counter, checkpointer: try await backend.make())
        let thread = newThread()
        var first: [GraphEvent<ListState>] = []
        for try await event in app.stream(ListState(), thread: thread) { first.append(event) }
        #expect(Self.describe(first) == ["values []", "updates a", "values [a]", "interrupts q", "finished interrupted"])

        var second: [GraphEvent<ListState>] = []
        for try await event in app.stream(try Command(resume: "hello"), thread: thread) { second.append(event) }
        #expect(Self.describe(second) == [
            "values [a]", "updates ask", "values [a,ask:hello]", "updates b", "values [a,ask:hello,b]", "finished completed",
        ])
    }

    /// A compact description of events, to compare whole sequences.
    static func describe(_ events: [GraphEvent<ListState>]) -> [String] {
        events.map { event in
            switch event {
            case .values(let state): "values [\(state.v.joined(separator: ","))]"
            case .updates(let node, _): "updates \(node)"
            case .interrupts(let list): "interrupts \(list.map { $0.value.stringValue ?? "?" }.joined(separator: ","))"
            case .finished(let result): "finished \(result.status.rawValue)"
            }
        }
    }
}
