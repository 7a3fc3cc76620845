import Foundation

/// How often a failing node is tried again. An interrupt is never retried.
public struct RetryPolicy: Sendable {
    /// Attempts in total, the first included. Default: 3.
    public var maxAttempts: Int
    /// Wait before the second attempt. Default: zero.
    public var initialDelay: Duration
    /// Factor applied to the wait after each attempt. Default: 2.
    public var backoffFactor: Double
    /// Which errors are retried. Default: all.
    public var retryIf: @Sendable (any Error) -> Bool

    /// Creates a policy.
    public init(
        maxAttempts: Int = 3, initialDelay: Duration = .zero, backoffFactor: Double = 2,
        retryIf: @escaping @Sendable (any Error) -> Bool = { _ in true }
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.backoffFactor = backoffFactor
        self.retryIf = retryIf
    }
}

/// A node's body: reads the state (and its context) and returns what to write and where to go.
public typealias NodeAction<State: GraphState> = @Sendable (State, NodeContext) async throws -> Command<State>

/// A router for conditional edges: returns the nodes (or sends) to run next.
public typealias Router<State: GraphState> = @Sendable (State) async throws -> [Goto<State>]

struct NodeSpec<State: GraphState>: Sendable {
    let name: String
    let action: NodeAction<State>
    let retry: RetryPolicy?
    let destinations: [String]
    /// What a `Send` to this node must carry: the state type, or the node's payload type.
    var payloadType = PayloadType(State.self)
    /// The body of a node that takes a payload of its own type (`nil` for a state node).
    var payloadAction: (@Sendable (JSONValue, NodeContext) async throws -> Command<State>)?
    /// The compiled graph this node runs, for a subgraph node.
    var subgraph: (any SubgraphRunner<State>)?
}

/// A waiting edge: `target` runs once every source has finished since it last ran.
struct JoinEdge: Sendable {
    let sources: [String]
    let target: String
    /// The barrier channel holding which sources have finished.
    var channel: String { Reserved.joinPrefix + sources.joined(separator: "+") + ":" + target }
}

/// What `compile()` noticed that does not stop the graph from running.
public struct CompileReport: Sendable, Equatable {
    /// One sentence per finding, e.g. a node that no edge leads to.
    public var warnings: [String] = []
}

struct Branch<State: GraphState>: Sendable {
    let router: Router<State>
    let destinations: [String]?
}

/// The builder of a graph: add nodes and edges, then ``compile(name:version:checkpointer:interruptBefore:interruptAfter:clock:)``.
///
/// ```swift
/// var graph = StateGraph<EmailState>()
/// graph.addNode("draft") { state in .update(\.draft, "Dear \(state.to) ...") }
/// graph.addEdge(START, "draft")
/// let app = try graph.compile(checkpointer: InMemoryCheckpointer())
/// ```
public struct StateGraph<State: GraphState> {
    var nodes: [String: NodeSpec<State>] = [:]
    var nodeOrder: [String] = []
    var edges: [(from: String, to: String)] = []
    var branches: [String: [Branch<State>]] = [:]
    var joins: [JoinEdge] = []
    var problems: [String] = []

    /// Creates an empty graph over `State`.
    public init(_ state: State.Type = State.self) {}

    /// Adds a node whose body reads the state.
    /// - Parameters:
    ///   - name: Unique; not `START` or `END`.
    ///   - retry: Retry policy for errors (never for interrupts). Default: none.
    ///   - destinations: Nodes this node may `goto`; only used to check reachability. Default: none.
    public mutating func addNode(
        _ name: String, retry: RetryPolicy? = nil, destinations: [String] = [],
        _ action: @escaping @Sendable (State) async throws -> Command<State>
    ) {
        addNode(name, retry: retry, destinations: destinations, context: { state, _ in try await action(state) })
    }

    /// Adds a node whose body also receives its ``NodeContext`` (node name, task id, thread,
    /// `interrupt`).
    public mutating func addNode(
        _ name: String, retry: RetryPolicy? = nil, destinations: [String] = [],
        context action: @escaping NodeAction<State>
    ) {
        if name.isEmpty || name == START || name == END || name.hasPrefix("__") {
            problems.append("node name '\(name)' is reserved or empty; pick another name")
            return
        }
        if nodes[name] != nil {
            problems.append("node '\(name)' is added twice; node names must be unique")
            return
        }
        nodes[name] = NodeSpec(name: name, action: action, retry: retry, destinations: destinations)
        nodeOrder.append(name)
    }

    /// Adds a node that a ``Send`` reaches with a payload of its own type instead of the
    /// graph's state: `Send("grade", payload: essay)`. Its writes go to the graph's state as
    /// any node's do; its conditional edges read the graph's state.
    /// - Parameters:
    ///   - payload: The type every `Send` to this node must carry; a `Send` with another type
    ///     fails naming both.
    ///   - retry: Retry policy for errors (never for interrupts). Default: none.
    ///   - destinations: Nodes this node may `goto`; only used to check reachability. Default: none.
    public mutating func addNode<Payload: Codable & Sendable>(
        _ name: String, payload: Payload.Type, retry: RetryPolicy? = nil, destinations: [String] = [],
        _ action: @escaping @Sendable (Payload, NodeContext) async throws -> Command<State>
    ) {
        addNode(name, retry: retry, destinations: destinations, context: { _, _ in
            throw GraphError(.invalidUpdate, "node '\(name)' takes a \(Payload.self) payload and runs only from a Send; reach it with Send(\"\(name)\", payload:) instead of an edge or a goto")
        })
        guard nodes[name] != nil else { return }
        nodes[name]!.payloadType = PayloadType(Payload.self)
        nodes[name]!.payloadAction = { json, context in try await action(try json.decode(Payload.self), context) }
    }

    /// Adds an edge: after `from` runs, `to` runs in the next superstep.
    public mutating func addEdge(_ from: String, _ to: String) {
        edges.append((from, to))
    }

    /// Adds a waiting edge (a join): `to` runs once, in the superstep after the last of
    /// `sources` has finished, whatever order and superstep they finish in, as LangGraph's
    /// `add_edge([a, b, c], "join")`. A source paused by an interrupt holds the join until it
    /// is resumed and finishes.
    public mutating func addEdge(_ sources: [String], _ to: String) {
        let unique = Array(Set(sources)).sorted()
        guard !unique.isEmpty else {
            problems.append("addEdge([], '\(to)') has no sources; name the nodes '\(to)' waits for")
            return
        }
        if unique.count == 1 { return addEdge(unique[0], to) }
        joins.append(JoinEdge(sources: unique, target: to))
    }

    /// Adds conditional edges: after `from` runs, `router` picks what runs next from the
    /// state as `from` left it.
    /// - Parameter destinations: The nodes the router may return; checked at run time and
    ///   used for reachability. Default: any node.
    public mutating func addConditionalEdges(
        _ from: String, destinations: [String]? = nil, _ router: @escaping Router<State>
    ) {
        branches[from, default: []].append(Branch(router: router, destinations: destinations))
    }

    /// Adds conditional edges with a router that returns one node name (or `END`).
    public mutating func addConditionalEdges(
        _ from: String, destinations: [String]? = nil, _ router: @escaping @Sendable (State) async throws -> String
    ) {
        addConditionalEdges(from, destinations: destinations) { state in [Goto.node(try await router(state))] }
    }

    /// Validates the graph and returns the runnable form.
    /// - Parameters:
    ///   - name: The graph's registered name, stored in every checkpoint. Default: "graph".
    ///   - version: Bump when a change makes old checkpoints unreadable. Default: 1.
    ///   - acceptedVersions: Older versions this graph can still resume. Default: none.
    ///   - checkpointer: Where checkpoints go; without one, runs cannot be resumed.
    ///   - interruptBefore: Nodes to pause before (`"*"` for all). Default: none.
    ///   - interruptAfter: Nodes to pause after (`"*"` for all). Default: none.
    ///   - clock: Time source for timestamps and deadlines. Default: the system clock.
    /// - Throws: `GraphError` `.invalidGraph` naming what is wrong (unknown node, no entry,
    ///   edge to nowhere, fields without channels). Unreachable nodes are not errors: they are
    ///   listed in the compiled graph's ``CompiledGraph/report``.
    public func compile(
        name: String = "graph", version: Int = 1, acceptedVersions: Set<Int> = [],
        checkpointer: (any Checkpointer)? = nil, interruptBefore: [String] = [], interruptAfter: [String] = [],
        clock: any GraphClock = SystemClock()
    ) throws -> CompiledGraph<State> {
        if let problem = problems.first { throw GraphError(.invalidGraph, problem) }
        let table = try ChannelTable<State>(State.channels)
        var edgesFrom: [String: [String]] = [:]
        for edge in edges {
            guard edge.from == START || nodes[edge.from] != nil else {
                throw GraphError(.invalidGraph, "edge '\(edge.from)' -> '\(edge.to)' starts at unknown node '\(edge.from)'; add the node first")
            }
            guard edge.to == END || nodes[edge.to] != nil else {
                throw GraphError(.invalidGraph, "edge '\(edge.from)' -> '\(edge.to)' leads nowhere: there is no node '\(edge.to)'")
            }
            guard edge.from != END, edge.to != START else {
                throw GraphError(.invalidGraph, "edge '\(edge.from)' -> '\(edge.to)': nothing leaves END and nothing enters START")
            }
            edgesFrom[edge.from, default: []].append(edge.to)
        }
        for (from, list) in branches {
            guard from == START || nodes[from] != nil else {
                throw GraphError(.invalidGraph, "conditional edges start at unknown node '\(from)'")
            }
            for target in list.flatMap({ $0.destinations ?? [] }) where target != END && nodes[target] == nil {
                throw GraphError(.invalidGraph, "conditional edges from '\(from)' list destination '\(target)', which is not a node")
            }
        }
        for node in nodes.values {
            for target in node.destinations where target != END && nodes[target] == nil {
                throw GraphError(.invalidGraph, "node '\(node.name)' declares destination '\(target)', which is not a node")
            }
        }
        var joinsFrom: [String: [String]] = [:]
        for join in joins {
            for source in join.sources where nodes[source] == nil {
                throw GraphError(.invalidGraph, "join edge \(join.sources) -> '\(join.target)' waits for unknown node '\(source)'; add the node first (START and END cannot be waited for)")
            }
            guard nodes[join.target] != nil else {
                throw GraphError(.invalidGraph, "join edge \(join.sources) -> '\(join.target)' leads nowhere: there is no node '\(join.target)'")
            }
            for source in join.sources { joinsFrom[source, default: []].append(join.channel) }
        }
        guard edgesFrom[START] != nil || branches[START] != nil else {
            throw GraphError(.invalidGraph, "the graph has no entry: add addEdge(START, \"<first node>\")")
        }
        // Reachability from START through edges, conditional edges and declared destinations.
        var reached: Set<String> = []
        var frontier = [START]
        while let current = frontier.popLast() {
            var next = edgesFrom[current] ?? []
            for branch in branches[current] ?? [] { next += branch.destinations ?? nodeOrder }
            next += nodes[current]?.destinations ?? []
            next += joins.filter { $0.sources.contains(current) }.map(\.target)
            for n in next where n != END && !reached.contains(n) {
                reached.insert(n)
                frontier.append(n)
            }
        }
        // As in LangGraph, an unreachable node does not stop the graph: it is reported.
        var report = CompileReport()
        for unreachable in nodeOrder where !reached.contains(unreachable) {
            report.warnings.append(
                "node '\(unreachable)' is unreachable: no edge leads to it; add an edge, or list it in destinations: of the node or router that goes there")
        }
        for name in interruptBefore + interruptAfter where name != "*" && nodes[name] == nil {
            throw GraphError(.invalidGraph, "breakpoint on unknown node '\(name)'; known nodes: \(nodeOrder.joined(separator: ", "))")
        }
        return CompiledGraph(
            identity: GraphIdentity(name: name, version: version), acceptedVersions: acceptedVersions.union([version]),
            nodes: nodes, nodeNames: nodeOrder.sorted(), edgesFrom: edgesFrom, branches: branches, table: table,
            checkpointer: checkpointer, interruptBefore: Set(interruptBefore), interruptAfter: Set(interruptAfter), clock: clock,
            triggers: ([START] + nodeOrder.sorted()).map { ($0, Reserved.trigger($0)) },
            joins: Dictionary(joins.map { ($0.channel, $0) }, uniquingKeysWith: { first, _ in first }), joinsFrom: joinsFrom, report: report)
    }
}
