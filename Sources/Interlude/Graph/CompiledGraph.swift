import Foundation

/// A validated, runnable graph: invoke it, resume it, stream it, read and edit its threads.
///
/// Made by `StateGraph.compile(...)`. Immutable and `Sendable`: one instance serves every
/// thread concurrently; each thread is fenced by its version in the checkpointer.
public struct CompiledGraph<State: GraphState>: Sendable {
    /// The graph's name and version, stored in every checkpoint.
    public let identity: GraphIdentity
    /// Versions of this graph whose threads this graph can continue.
    public let acceptedVersions: Set<Int>
    let nodes: [String: NodeSpec<State>]
    /// Node names, sorted: the fixed order writes are applied in.
    let nodeNames: [String]
    let edgesFrom: [String: [String]]
    let branches: [String: [Branch<State>]]
    let table: ChannelTable<State>
    /// The checkpointer, if any.
    public internal(set) var checkpointer: (any Checkpointer)?
    let interruptBefore: Set<String>
    let interruptAfter: Set<String>
    let clock: any GraphClock
    /// Every node with its trigger channel, START first then by name: what planning scans.
    let triggers: [(node: String, trigger: String)]
    /// Join edges by barrier channel.
    let joins: [String: JoinEdge]
    /// The barrier channels each node writes to when it finishes.
    let joinsFrom: [String: [String]]
    /// What compiling noticed without refusing the graph (unreachable nodes).
    public let report: CompileReport

    /// The node names, sorted.
    public var nodeNamesSorted: [String] { nodeNames }

    // MARK: Invoking

    /// Runs the graph on new input: the whole state is written through the reducers.
    ///
    /// On a thread that is paused, new input does not resume: the unfinished tasks are
    /// dropped and the run starts again from `START` (as LangGraph does). Use ``resume(thread:with:config:)``
    /// to answer a pause.
    public func invoke(_ input: State, thread: String? = nil, config: RunConfig = RunConfig()) async throws -> RunResult<State> {
        try await Run(graph: self, threadID: thread, input: .state(input), config: config, mode: []).finish()
    }

    /// Runs the graph on a partial input: only the given fields are written.
    public func invoke(_ input: Update<State>, thread: String? = nil, config: RunConfig = RunConfig()) async throws -> RunResult<State> {
        try await Run(graph: self, threadID: thread, input: .update(input), config: config, mode: []).finish()
    }

    /// Steers a thread with a command: update first, then resume paused nodes, then `goto`.
    /// - Throws: `GraphError` `.emptyCommand` for a command with nothing in it.
    public func invoke(_ command: Command<State>, thread: String, config: RunConfig = RunConfig()) async throws -> RunResult<State> {
        try await Run(graph: self, threadID: thread, input: .command(command), config: config, mode: []).finish()
    }

    /// Continues a thread from its head (or `config.checkpointID`) with no new input:
    /// passes a static breakpoint, re-runs failed tasks, replays from a past checkpoint.
    public func invoke(thread: String, config: RunConfig = RunConfig()) async throws -> RunResult<State> {
        try await Run(graph: self, threadID: thread, input: .proceed, config: config, mode: []).finish()
    }

    /// Answers the only pending interrupt of a thread.
    /// - Throws: `GraphError` `.ambiguousResume` when several are pending (name them with
    ///   ``resume(thread:answers:config:)``), `.noPendingInterrupt`, `.alreadyResolved`.
    public func resume(thread: String, with answer: some Encodable & Sendable, config: RunConfig = RunConfig()) async throws -> RunResult<State> {
        try await invoke(Command(resume: answer), thread: thread, config: config)
    }

    /// Answers pending interrupts by id; interrupts not named stay pending.
    public func resume(thread: String, answers: [String: JSONValue], config: RunConfig = RunConfig()) async throws -> RunResult<State> {
        try await invoke(Command(resumeByID: answers), thread: thread, config: config)
    }

    // MARK: Streaming

    /// Streams a run on new input: values after each step, each node's updates, interrupts.
    public func stream(_ input: State, thread: String? = nil, config: RunConfig = RunConfig(), mode: StreamMode = .all) -> GraphRun<State> {
        GraphRun(graph: self, threadID: thread, input: .state(input), config: config, mode: mode)
    }

    /// Streams a run steered by a command (a resume, usually). The current state comes first.
    public func stream(_ command: Command<State>, thread: String, config: RunConfig = RunConfig(), mode: StreamMode = .all) -> GraphRun<State> {
        GraphRun(graph: self, threadID: thread, input: .command(command), config: config, mode: mode)
    }

    /// Streams a continuation with no new input. The current state comes first.
    public func stream(thread: String, config: RunConfig = RunConfig(), mode: StreamMode = .all) -> GraphRun<State> {
        GraphRun(graph: self, threadID: thread, input: .proceed, config: config, mode: mode)
    }

    func requireCheckpointer(_ what: String) throws -> any Checkpointer {
        guard let checkpointer else {
            throw GraphError(.checkpointerRequired, "\(what) needs a checkpointer: compile the graph with compile(checkpointer: InMemoryCheckpointer()) or a durable one")
        }
        return checkpointer
    }

    func checkIdentity(_ record: ThreadRecord?) throws {
        guard let record else { return }
        guard record.graph.name == identity.name, acceptedVersions.contains(record.graph.version) else {
            throw GraphError(
                .graphVersionMismatch,
                "thread '\(record.threadID)' was written by graph \(record.graph), this is \(identity); deploy a graph that accepts version \(record.graph.version) (compile(acceptedVersions:)) or start a new thread")
        }
    }
}

/// Which events a stream yields.
public struct StreamMode: OptionSet, Sendable {
    public let rawValue: Int
    /// Creates a mode.
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The whole state after each step (and first, when resuming).
    public static let values = StreamMode(rawValue: 1)
    /// What each node wrote, as JSON.
    public static let updates = StreamMode(rawValue: 2)
    /// Everything.
    public static let all: StreamMode = [.values, .updates]
}

/// A streamed run: an `AsyncSequence` of ``GraphEvent``s that drives the run as it is
/// iterated, on the iterating task (no background task). Interrupts and the final result
/// are always yielded; ``StreamMode`` picks the rest.
public struct GraphRun<State: GraphState>: AsyncSequence, Sendable {
    public typealias Element = GraphEvent<State>
    let graph: CompiledGraph<State>
    let threadID: String?
    let input: RunInput<State>
    let config: RunConfig
    let mode: StreamMode

    /// Iterates the run.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let run: Run<State>
        var buffer: [GraphEvent<State>] = []
        var index = 0

        /// The next event, running the next superstep when needed.
        public mutating func next() async throws -> GraphEvent<State>? {
            while index >= buffer.count {
                guard let events = try await run.advance() else { return nil }
                buffer = events
                index = 0
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(run: Run(graph: graph, threadID: threadID, input: input, config: config, mode: mode))
    }
}
