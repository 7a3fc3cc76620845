import Foundation
import Interlude

/// How one command left its thread.
public struct GraphOutcome: Sendable, Equatable {
    /// The thread's status.
    public var status: ThreadStatus
    /// The head checkpoint.
    public var head: CheckpointID?
    /// Interrupts now pending.
    public var interrupts: Int
}

/// A compiled graph with its state type erased, so one worker hosts graphs of any state.
public struct WorkerGraph: Sendable {
    /// Name and version.
    public let identity: GraphIdentity
    let run: @Sendable ([String: JSONValue], String, RunConfig) async throws -> GraphOutcome
    let resume: @Sendable (Resume, String, RunConfig) async throws -> GraphOutcome
    let proceed: @Sendable (String, RunConfig) async throws -> GraphOutcome
    let updateState: @Sendable ([String: JSONValue]?, String?, CheckpointID?, String, RunConfig) async throws -> CheckpointID
    let expire: @Sendable (String, Date, RunConfig) async throws -> GraphOutcome?
    let fail: @Sendable (String, String, RunConfig) async throws -> Void
    /// The same graph storing its threads in another checkpointer.
    let bound: @Sendable (any Checkpointer) -> WorkerGraph
    /// `getState` (limit `nil`) or `stateHistory` through another checkpointer, as views.
    let inspect: @Sendable (any Checkpointer, String, Int?) async throws -> [CheckpointView]

    /// Wraps a compiled graph.
    public init<State: GraphState>(_ graph: CompiledGraph<State>) {
        identity = graph.identity
        @Sendable func outcome(_ result: RunResult<State>) -> GraphOutcome {
            GraphOutcome(status: result.status, head: result.checkpointID, interrupts: result.interrupts.count)
        }
        run = { input, thread, config in outcome(try await graph.invoke(try graph.update(fromJSON: input), thread: thread, config: config)) }
        resume = { resume, thread, config in outcome(try await graph.invoke(Command<State>(update: Update(), goto: [], resume: resume), thread: thread, config: config)) }
        proceed = { thread, config in outcome(try await graph.invoke(thread: thread, config: config)) }
        updateState = { values, asNode, checkpointID, thread, config in
            try await graph.updateState(thread: thread, values: try values.map { try graph.update(fromJSON: $0) }, asNode: asNode, checkpointID: checkpointID, config: config)
        }
        expire = { thread, now, config in try await graph.expire(thread: thread, now: now, config: config).map(outcome) }
        fail = { thread, reason, config in try await graph.fail(thread: thread, reason: reason, config: config) }
        bound = { checkpointer in WorkerGraph(graph.withCheckpointer(checkpointer)) }
        inspect = { checkpointer, thread, limit in
            let graph = graph.withCheckpointer(checkpointer)
            guard let limit else { return try await graph.getState(thread: thread).map { [try CheckpointView($0)] } ?? [] }
            return try await graph.stateHistory(thread: thread, limit: limit).map(CheckpointView.init)
        }
    }

    /// The thread's state at its head (`getState`), read from `store`; `nil` when the thread
    /// has no checkpoint.
    public func state(thread: String, in store: any Checkpointer) async throws -> CheckpointView? {
        try await inspect(store, thread, nil).first
    }

    /// The thread's checkpoints, newest first (`stateHistory`), read from `store`.
    public func history(thread: String, limit: Int, in store: any Checkpointer) async throws -> [CheckpointView] {
        try await inspect(store, thread, limit)
    }
}

/// The graphs a worker hosts, by name: the Temporal model, where a worker executable
/// registers the workflows it can run.
///
/// Register compiled graphs (with or without a checkpointer); the worker stores every thread
/// in its own store, whatever checkpointer a graph was compiled with.
public struct GraphRegistry: Sendable {
    private var graphs: [String: WorkerGraph] = [:]

    /// An empty registry.
    public init() {}

    /// Registers a graph under its name.
    /// - Throws: ``WorkerError`` `.duplicateGraph` when a graph with that name is registered
    ///   already: two graphs cannot share a name (threads record the name to find their graph).
    public mutating func register<State: GraphState>(_ graph: CompiledGraph<State>) throws {
        let name = graph.identity.name
        guard graphs[name] == nil else {
            throw WorkerError(
                .duplicateGraph,
                "a graph named '\(name)' is already registered; give each graph its own name in compile(name:) (versions of one graph share a name: register only the newest and list older versions in acceptedVersions)")
        }
        graphs[name] = WorkerGraph(graph)
    }

    /// The graph registered under `name`, if any.
    public func graph(named name: String) -> WorkerGraph? { graphs[name] }

    /// Registered names, sorted.
    public var names: [String] { graphs.keys.sorted() }

    /// Every graph bound to `checkpointer`.
    func bound(to checkpointer: any Checkpointer) -> GraphRegistry {
        var copy = self
        copy.graphs = graphs.mapValues { $0.bound(checkpointer) }
        return copy
    }
}
