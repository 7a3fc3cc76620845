import Foundation

/// When a run's checkpoints are committed.
public enum Durability: String, Sendable {
    /// After every superstep (the head is always at the last finished step). Default.
    case sync
    /// Once, when the invocation stops (pause, end, error): every checkpoint is still saved,
    /// in one commit. A crash mid-invocation loses that invocation's progress, which a
    /// redelivered command then redoes.
    case exit
}

/// What a commit is about, handed to ``RunConfig/commitHook`` so a caller can attach rows
/// (outbox events, ledger entries) to the same transaction.
public struct CommitContext: Sendable {
    /// The thread.
    public var threadID: String
    /// The thread's head after the commit.
    public var head: CheckpointID
    /// The head's step.
    public var step: Int
    /// The thread's status after the commit.
    public var status: ThreadStatus
    /// Interrupts this commit records as newly pending.
    public var newInterrupts: [InterruptRecord]
    /// Interrupt records this commit changes in any way.
    public var interruptChanges: [InterruptRecord]
    /// `true` for the last commit of the invocation.
    public var isFinal: Bool
    /// `true` for the first commit of the invocation.
    public var isFirst: Bool
    /// The state after the commit, as JSON; only set on the final commit of a run that
    /// completed (encoding the state costs, and only the end of a run reports it).
    public var values: JSONValue?
    /// The failure reason, when the status is `.failed` or a node failed.
    public var failure: String?
}

/// Per-invocation settings.
public struct RunConfig: Sendable {
    /// Run from this checkpoint instead of the head (replay or fork). Default: the head.
    public var checkpointID: CheckpointID?
    /// Replaces the compiled `interruptBefore` for this call. Default: the compiled list.
    public var interruptBefore: [String]?
    /// Replaces the compiled `interruptAfter` for this call. Default: the compiled list.
    public var interruptAfter: [String]?
    /// Supersteps allowed in this invocation. Default: 25.
    public var recursionLimit: Int
    /// When to commit. Default: `.sync`.
    public var durability: Durability
    /// Metadata stored on every checkpoint this invocation creates. Default: empty.
    public var metadata: [String: JSONValue]
    /// Who is acting (a command id); recorded on resolved interrupts when no
    /// ``answeredBy`` is given. Default: none.
    public var actor: String?
    /// The human who answers, for a resume: checked against each answered interrupt's
    /// ``Approvers`` (refused `.notAllowed` otherwise), recorded as the interrupt's
    /// `resolvedBy` and as `actor` in the metadata of the checkpoints the resume creates.
    /// Default: none.
    public var answeredBy: ReviewActor?
    /// Called before every commit; its rows are committed in the same transaction.
    /// Default: none.
    public var commitHook: (@Sendable (CommitContext) throws -> CommitExtras)?

    /// Creates a configuration.
    public init(
        checkpointID: CheckpointID? = nil, interruptBefore: [String]? = nil, interruptAfter: [String]? = nil,
        recursionLimit: Int = 25, durability: Durability = .sync, metadata: [String: JSONValue] = [:],
        actor: String? = nil, commitHook: (@Sendable (CommitContext) throws -> CommitExtras)? = nil, answeredBy: ReviewActor? = nil
    ) {
        self.answeredBy = answeredBy
        self.checkpointID = checkpointID
        self.interruptBefore = interruptBefore
        self.interruptAfter = interruptAfter
        self.recursionLimit = recursionLimit
        self.durability = durability
        self.metadata = metadata
        self.actor = actor
        self.commitHook = commitHook
    }
}

/// How an invocation ended.
public struct RunResult<State: GraphState>: Sendable {
    /// The state when it stopped.
    public var values: State
    /// Pending interrupts (empty unless paused on dynamic interrupts).
    public var interrupts: [Interrupt]
    /// Nodes that run next (empty when finished).
    public var next: [String]
    /// The head checkpoint (`nil` without a checkpointer).
    public var checkpointID: CheckpointID?
    /// The thread's status.
    public var status: ThreadStatus
    /// Why it failed, when `status` is `.failed`.
    public var failureReason: String?

    /// `true` when paused waiting for a human (interrupts or a breakpoint).
    public var isInterrupted: Bool { status == .interrupted }
}

/// The input of an invocation.
enum RunInput<State: GraphState>: Sendable {
    case state(State)
    case update(Update<State>)
    case command(Command<State>)
    case proceed
}

/// An event of a streamed run.
public enum GraphEvent<State: GraphState>: Sendable {
    /// The whole state: first when resuming, then after every superstep.
    case values(State)
    /// What one node wrote in a superstep, as JSON by field.
    case updates(node: String, writes: [String: JSONValue])
    /// The run paused on these interrupts.
    case interrupts([Interrupt])
    /// The invocation ended.
    case finished(RunResult<State>)
}

extension CompiledGraph {
    /// Refuses a configuration no run can honour, before anything is read or written: a
    /// recursion limit below 1, or a breakpoint on a node this graph does not have (a mistyped
    /// name would otherwise skip the pause it was meant to make, as `compile()` refuses too).
    /// - Throws: ``GraphError`` `.recursionLimit` or `.unknownNode`, naming what to change.
    func check(_ config: RunConfig) throws(GraphError) {
        guard config.recursionLimit >= 1 else {
            throw GraphError(.recursionLimit, "recursion limit \(config.recursionLimit) allows no superstep; it must be 1 or more (default 25)")
        }
        // Checked list by list, so a run (one per command) allocates nothing here.
        func unknown(_ name: String) -> Bool { name != "*" && !nodeNames.contains(name) }
        func refuse(_ field: String, _ name: String) -> GraphError {
            GraphError(.unknownNode, "\(field) names '\(name)', which graph '\(identity.name)' does not have; its nodes: \(nodeNames.joined(separator: ", ")), or '*' for all")
        }
        if let name = config.interruptBefore?.first(where: unknown) { throw refuse("interruptBefore", name) }
        if let name = config.interruptAfter?.first(where: unknown) { throw refuse("interruptAfter", name) }
    }
}
