import Foundation

/// A task of a checkpoint as `getState` and `stateHistory` show it.
public struct TaskSnapshot: Sendable {
    /// The task id.
    public var id: String
    /// The node it runs.
    public var name: String
    /// Interrupts it raised.
    public var interrupts: [Interrupt]
    /// What it wrote, by field, once it finished.
    public var result: [String: JSONValue]?
    /// Its failure, if it failed.
    public var error: String?
}

/// The state of a thread at one checkpoint.
public struct StateSnapshot<State: GraphState>: Sendable {
    /// The field values.
    public var values: State
    /// Nodes that run next.
    public var next: [String]
    /// The tasks of the next superstep, with their interrupts, results and errors.
    public var tasks: [TaskSnapshot]
    /// The thread.
    public var threadID: String
    /// This checkpoint's id: pass it in `RunConfig(checkpointID:)` to replay or fork.
    public var checkpointID: CheckpointID
    /// The checkpoint it came from.
    public var parentCheckpointID: CheckpointID?
    /// When it was created.
    public var createdAt: Date
    /// What created it.
    public var source: CheckpointSource
    /// Its superstep number.
    public var step: Int
    /// Its caller-supplied metadata.
    public var metadata: [String: JSONValue]
    /// Interrupts waiting for an answer at this checkpoint.
    public var interrupts: [Interrupt]
    /// With `getState(thread:subgraphs: true)`: the state of each subgraph over this state type
    /// that a pending task runs, by namespace (``Interrupt/namespace``), with the subgraph's
    /// pending interrupts. Subgraphs over another state type: ``subgraph(_:as:)``.
    public var subgraphs: [String: StateSnapshot<State>] = [:]
    /// The states of subgraphs with another state type, by namespace (each a `StateSnapshot`
    /// of its own state type); read them with ``subgraph(_:as:)``.
    var otherSubgraphs: [String: any Sendable] = [:]

    /// With `getState(thread:subgraphs: true)`: the state of the subgraph at `namespace`, whose
    /// state type is `Child` (the parent's own type or another), or `nil` when there is none or
    /// it has another type.
    public func subgraph<Child: GraphState>(_ namespace: String, as type: Child.Type = Child.self) -> StateSnapshot<Child>? {
        (subgraphs[namespace] as? StateSnapshot<Child>) ?? (otherSubgraphs[namespace] as? StateSnapshot<Child>)
    }

    /// The namespaces of every subgraph state loaded by `getState(thread:subgraphs: true)`,
    /// whatever its state type.
    public var subgraphNamespaces: [String] { (Array(subgraphs.keys) + Array(otherSubgraphs.keys)).sorted() }
}
