import Foundation
import Interlude
import Testing

extension Tag {
    @Tag static var engine: Self
}

struct Doc: GraphState {
    var v: [String] = []
    static let channels: [Channel<Doc>] = [.append("v", \.v)]
}

struct MissingChannel: GraphState {
    var v: [String] = []
    var forgotten = 0
    static let channels: [Channel<MissingChannel>] = [.append("v", \.v)]
}

@Suite("StateGraph.compile validation", .tags(.engine))
struct CompileTests {
    static func node(_ graph: inout StateGraph<Doc>, _ name: String) {
        graph.addNode(name) { _ in .none }
    }

    /// Compiles and returns the `.invalidGraph` error's message.
    static func failure(_ build: (inout StateGraph<Doc>) -> Void) -> String? {
        var graph = StateGraph<Doc>()
        build(&graph)
        let error = #expect(throws: GraphError.self) { try graph.compile() }
        #expect(error?.code == .invalidGraph)
        return error?.message
    }

    @Test("an edge from an unknown node names it")
    func unknownSource() {
        let message = Self.failure { graph in
            Self.node(&graph, "a")
            graph.addEdge(START, "a")
            graph.addEdge("ghost", "a")
        }
        #expect(message?.contains("unknown node 'ghost'") == true)
    }

    @Test("an edge to a missing node says it leads nowhere")
    func edgeToNowhere() {
        let message = Self.failure { graph in
            Self.node(&graph, "a")
            graph.addEdge(START, "a")
            graph.addEdge("a", "missing")
        }
        #expect(message?.contains("leads nowhere") == true)
        #expect(message?.contains("'missing'") == true)
    }

    @Test("a graph without an edge from START has no entry")
    func noEntry() {
        let message = Self.failure { graph in Self.node(&graph, "a") }
        #expect(message?.contains("no entry") == true)
        #expect(message?.contains("addEdge(START") == true)
    }

    @Test("a node no edge leads to compiles, with a warning in the compile report (as LangGraph accepts it)")
    func unreachable() throws {
        var graph = StateGraph<Doc>()
        Self.node(&graph, "a")
        Self.node(&graph, "island")
        graph.addEdge(START, "a")
        let app = try graph.compile()
        #expect(app.report.warnings.count == 1)
        #expect(app.report.warnings.first?.contains("node 'island' is unreachable") == true)

        var reached = StateGraph<Doc>()
        Self.node(&reached, "a")
        Self.node(&reached, "b")
        Self.node(&reached, "join")
        reached.addEdge(START, "a")
        reached.addEdge(START, "b")
        reached.addEdge(["a", "b"], "join")
        #expect(try reached.compile().report.warnings.isEmpty, "a join edge's target is reached through its sources")
    }

    @Test("a join edge naming an unknown node is refused, naming it")
    func joinUnknown() {
        let message = Self.failure { graph in
            Self.node(&graph, "a")
            Self.node(&graph, "join")
            graph.addEdge(START, "a")
            graph.addEdge(["a", "ghost"], "join")
        }
        #expect(message?.contains("unknown node 'ghost'") == true)
    }

    @Test("a node added twice is refused")
    func duplicate() {
        let message = Self.failure { graph in
            Self.node(&graph, "a")
            Self.node(&graph, "a")
            graph.addEdge(START, "a")
        }
        #expect(message?.contains("node 'a' is added twice") == true)
    }

    @Test("a state field without a channel is named")
    func fieldWithoutChannel() {
        var graph = StateGraph<MissingChannel>()
        graph.addNode("a") { _ in .none }
        graph.addEdge(START, "a")
        let error = #expect(throws: GraphError.self) { try graph.compile() }
        #expect(error?.code == .invalidGraph)
        #expect(error?.message.contains("fields with no channel: forgotten") == true)
    }

    @Test("a breakpoint on an unknown node is refused")
    func unknownBreakpoint() {
        var graph = StateGraph<Doc>()
        Self.node(&graph, "a")
        graph.addEdge(START, "a")
        let error = #expect(throws: GraphError.self) { try graph.compile(interruptBefore: ["b"]) }
        #expect(error?.message.contains("breakpoint on unknown node 'b'") == true)
    }

    @Test("a node reached only through declared destinations compiles")
    func destinationsReach() throws {
        var graph = StateGraph<Doc>()
        graph.addNode("router", destinations: ["target"]) { _ in .goto("target") }
        Self.node(&graph, "target")
        graph.addEdge(START, "router")
        _ = try graph.compile()
    }
}
