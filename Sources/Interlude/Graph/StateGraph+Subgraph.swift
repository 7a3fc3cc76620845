import Foundation

/// Where a subgraph node keeps its checkpoints.
public enum SubgraphPersistence: Sendable, Equatable {
    /// A child thread per invocation of the node (LangGraph's default): namespace
    /// `<node>:<task id>`. The child can pause and be resumed while the parent waits; the
    /// next invocation starts a new child thread.
    case perInvocation
    /// One child thread per parent thread (LangGraph's `checkpointer=True`): namespace
    /// `<node>`. The child's own state and history carry over from one call to the next.
    case thread
}

/// What a parent graph over `State` needs of a subgraph node, whatever the subgraph's state
/// type: its namespace for a task, and its state for `getState(subgraphs: true)`.
protocol SubgraphRunner<State>: Sendable {
    associatedtype State: GraphState
    /// Where the child keeps its checkpoints.
    var persistence: SubgraphPersistence { get }
    /// The child's state on `thread` (a `StateSnapshot` of the child's state type), or `nil`.
    func childState(thread: String, checkpointer: any Checkpointer) async throws -> (any Sendable)?
}

extension SubgraphRunner {
    /// The child's namespace for a task of the parent.
    func namespace(node: String, taskID: String) -> String {
        persistence == .thread ? node : "\(node):\(taskID)"
    }
}

/// A compiled graph used as a node of a parent graph over `State`. The child's state type is
/// `Child`: the same as the parent's (``StateGraph/addSubgraph(_:_:persistence:destinations:)``)
/// or another one, with an input and an output mapping.
struct SubgraphNode<State: GraphState, Child: GraphState>: SubgraphRunner {
    let child: CompiledGraph<Child>
    let persistence: SubgraphPersistence
    /// The child's input for the parent's state.
    let input: @Sendable (State) throws -> Child
    /// The parent's update for the parent's state (as the node received it) and the child's final state.
    let output: @Sendable (State, Child) throws -> Update<State>

    /// The child's thread id: the parent's thread and the namespace.
    static func thread(parent: String, namespace: String) -> String { "\(parent)::\(namespace)" }

    func childState(thread: String, checkpointer: any Checkpointer) async throws -> (any Sendable)? {
        try await child.withCheckpointer(checkpointer).getState(thread: thread, subgraphs: true)
    }
}

extension StateGraph {
    /// Adds a compiled graph over the same state type as a node.
    ///
    /// The child receives the parent's state as input and runs with the parent's checkpointer
    /// under its own namespace; what it changed is written back to the parent (appended
    /// elements for append lists, the new value otherwise). An `interrupt` inside the child
    /// pauses the parent with the same interrupt id and the child's namespace
    /// (``Interrupt/namespace``); resuming the parent (by id or plain value) resumes the child
    /// where it stopped, without re-running the parent's or the child's finished nodes.
    /// - Parameters:
    ///   - child: The subgraph, compiled with or without a checkpointer (the parent's is used).
    ///   - persistence: Per invocation (default) or one child thread per parent thread.
    ///   - destinations: Nodes this node may `goto`; only used to check reachability. Default: none.
    public mutating func addSubgraph(
        _ name: String, _ child: CompiledGraph<State>, persistence: SubgraphPersistence = .perInvocation, destinations: [String] = []
    ) {
        add(name, SubgraphNode(child: child, persistence: persistence, input: { $0 }, output: { input, output in
            try SubgraphNode<State, State>.changes(from: input, to: output, graph: child)
        }), destinations: destinations)
    }

    /// Adds a compiled graph whose state type differs from the parent's as a node: `input`
    /// maps the parent's state to the child's input, `output` maps the child's final state to
    /// an update of the parent (LangGraph's node that calls a subgraph with another schema).
    ///
    /// Interrupts, resume (by id or plain value), `getState(subgraphs: true)` (read the child's
    /// state with ``StateSnapshot/subgraph(_:as:)``), persistence and replay work as for a
    /// subgraph over the same state type. `input` runs only when the node starts the child: a
    /// paused or failed child continues with its own state, and a resume does not call it.
    /// - Parameters:
    ///   - child: The subgraph, compiled with or without a checkpointer (the parent's is used).
    ///   - input: The child's input for the parent's state.
    ///   - output: The parent's update for the child's final state.
    ///   - persistence: Per invocation (default) or one child thread per parent thread.
    ///   - destinations: Nodes this node may `goto`; only used to check reachability. Default: none.
    public mutating func addSubgraph<Child: GraphState>(
        _ name: String, _ child: CompiledGraph<Child>,
        input: @escaping @Sendable (State) throws -> Child,
        output: @escaping @Sendable (Child) throws -> Update<State>,
        persistence: SubgraphPersistence = .perInvocation, destinations: [String] = []
    ) {
        add(name, SubgraphNode(child: child, persistence: persistence, input: input, output: { _, final in try output(final) }), destinations: destinations)
    }

    private mutating func add<Child>(_ name: String, _ sub: SubgraphNode<State, Child>, destinations: [String]) {
        addNode(name, destinations: destinations, context: { state, context in try await sub.run(state, context: context) })
        nodes[name]?.subgraph = sub
    }
}

extension SubgraphNode {
    func run(_ state: State, context: NodeContext) async throws -> Command<State> {
        guard let parentThread = context.threadID, let checkpointer = context.checkpointer else {
            throw GraphError(
                .checkpointerRequired,
                "subgraph node '\(context.node)' needs the parent graph compiled with a checkpointer and run with a thread id")
        }
        let namespace = namespace(node: context.node, taskID: context.taskID)
        let thread = Self.thread(parent: parentThread, namespace: namespace)
        let app = child.withCheckpointer(checkpointer)
        let record = try await checkpointer.thread(thread)
        // A resume value the parent got with nothing pending: the child's first question takes it.
        let inherited = context.nullResume.map { NullResume(inheriting: $0, by: context.taskID) }
        let result: RunResult<Child>
        switch record?.status {
        case .interrupted?, .ready?:
            // Paused or failed part-way: continue it, with the answers the parent received.
            let pending = try await app.getState(thread: thread)?.interrupts.map(\.id) ?? []
            let answers = context.subgraphAnswers.filter { pending.contains($0.key) }
            result = answers.isEmpty
                ? try await app.run(.proceed, thread: thread, inheriting: inherited)
                : try await app.resume(thread: thread, answers: answers)
        case .completed? where persistence == .perInvocation:
            // This invocation's child already finished (the parent re-runs the node): reuse it.
            guard let done = try await app.getState(thread: thread) else { throw GraphError(.storage, "subgraph thread '\(thread)' lost its checkpoint") }
            return try .update(output(state, done.values))
        default:
            result = try await app.run(.state(try input(state)), thread: thread, inheriting: inherited)
        }
        if result.status == .interrupted {
            // No question: the child stopped at one of its static breakpoints. The parent
            // pauses with this task pending; continuing the parent continues the child.
            guard !result.interrupts.isEmpty else { throw SubgraphBreakpoint(namespace: namespace) }
            throw context.surface(result.interrupts, namespace: namespace)
        }
        return try .update(output(state, result.values))
    }
}

/// The signal a subgraph node throws when its child stopped at a static breakpoint: the
/// parent's task pauses without a question (as at the parent's own breakpoints).
struct SubgraphBreakpoint: Error, Sendable {
    /// The child's namespace.
    let namespace: String
}

extension SubgraphNode where Child == State {
    /// What the child changed, as writes for the parent: the new elements of an append list
    /// that only grew, the whole list for a message list (merged by id), the new value
    /// otherwise (an overwrite for a reducer field).
    static func changes(from input: State, to output: State, graph: CompiledGraph<State>) throws -> Update<State> {
        var update = Update<State>()
        for channel in graph.table.channels {
            let before = try channel.encodeValue(input)
            let after = try channel.encodeValue(output)
            guard before != after else { continue }
            let value: any Sendable
            switch channel.kind {
            case .append:
                let old = try JSONValue(json: before).arrayValue ?? []
                let new = try JSONValue(json: after).arrayValue ?? []
                if new.count >= old.count, Array(new.prefix(old.count)) == old {
                    value = try channel.decodeWrite(JSONValue.array(Array(new.dropFirst(old.count))).jsonData)
                } else {
                    value = OverwriteWrite(value: try channel.decodeWrite(after))
                }
            case .messages, .lastValue:
                value = try channel.decodeWrite(after)
            case .reducer:
                value = OverwriteWrite(value: try channel.decodeWrite(after))
            }
            update.writes.append(Update<State>.Write(keyPath: channel.keyPath, value: value))
        }
        return update
    }
}

extension CompiledGraph {
    /// Runs this graph as a subgraph: `inherited` is the parent's resume value given with
    /// nothing pending, if any.
    func run(_ input: RunInput<State>, thread: String, inheriting inherited: NullResume?) async throws -> RunResult<State> {
        let run = Run(graph: self, threadID: thread, input: input, config: RunConfig(), mode: [])
        run.inheritedResume = inherited
        return try await run.finish()
    }

    /// The thread id a subgraph's checkpoints are stored under: `<parent thread>::<namespace>`,
    /// the namespace as ``Interrupt/namespace`` and ``StateSnapshot/subgraphs`` give it. Read it
    /// with the subgraph's own `getState` or `stateHistory`.
    public static func subgraphThread(parent: String, namespace: String) -> String {
        SubgraphNode<State, State>.thread(parent: parent, namespace: namespace)
    }
}

extension CheckpointTuple {
    /// The namespace of each question asked inside a subgraph and saved on this checkpoint, by
    /// interrupt id (``Interrupt/namespace``): for readers of a stored checkpoint that have
    /// only ``InterruptRecord``s, whose store may not keep the namespace (PostgreSQL).
    /// Unreadable saved interrupts are skipped.
    public var subgraphNamespaces: [String: String] {
        var result: [String: String] = [:]
        for write in pendingWrites where write.channel == Reserved.interrupt {
            for interrupt in (try? Interrupt.decodeList(write.value)) ?? [] {
                if let namespace = interrupt.namespace { result[interrupt.id] = namespace }
            }
        }
        return result
    }
}
