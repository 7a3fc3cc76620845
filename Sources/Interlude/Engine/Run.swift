import Foundation

/// One invocation: the loop that owns persistence and status. It loads the thread, applies
/// the input, then runs supersteps until the graph ends, pauses or fails, committing through
/// the checkpointer. Driven by `finish()` (invoke) or `advance()` (streaming), always on the
/// caller's task.
final class Run<State: GraphState> {
    enum Phase { case start, running, done }

    let graph: CompiledGraph<State>
    let threadID: String?
    let input: RunInput<State>
    let config: RunConfig
    let mode: StreamMode
    let checkpointer: (any Checkpointer)?
    var phase = Phase.start

    // The working head.
    var values = State()
    var current: Checkpoint?
    var headWrites: [PendingWrite] = []
    var sends: [SendPacket] = []
    /// Join barriers at the working head: which sources finished since the target ran.
    var barriers: [String: [String]] = [:]
    /// The run input, typed when this invocation received it.
    var startInput: [(channel: Int, value: any Sendable)]?
    var startBlob: Data?
    var appendInfo: [String: (count: Int, depth: Int)] = [:]
    var threadVersion: Int64 = 0
    var latestID: CheckpointID?
    var steps = 0
    var resumedThisRun = false
    /// For a subgraph's run: a resume value the parent received with nothing pending, which
    /// the subgraph's first unanswered question takes (M3 through a subgraph).
    var inheritedResume: NullResume?
    /// Interrupt ids answered by their deadline's default in this invocation, until the
    /// checkpoint of the step that used the defaults records them as `timed_out`.
    var expiring: Set<String> = []

    // What the next commit carries.
    var pendingCheckpoints: [NewCheckpoint] = []
    var pendingWriteOrder: [CheckpointID] = []
    var pendingWrites: [CheckpointID: [PendingWrite]] = [:]
    var pendingInterruptOrder: [String] = []
    var pendingInterrupts: [String: InterruptRecord] = [:]
    var knownInterrupts: [InterruptRecord]?
    var commits = 0
    var result: RunResult<State>?

    init(graph: CompiledGraph<State>, threadID: String?, input: RunInput<State>, config: RunConfig, mode: StreamMode) {
        self.graph = graph
        self.threadID = threadID
        self.input = input
        var config = config
        if case .command(let command) = input, command.resume != nil, let actor = config.answeredBy {
            // Who answered shows in getState and stateHistory.
            config.metadata["actor"] = actor.json
        }
        self.config = config
        self.mode = mode
        self.checkpointer = graph.checkpointer
    }

    var now: Date { graph.clock.now }

    /// Runs to the end and returns how it ended.
    func finish() async throws -> RunResult<State> {
        while try await advance() != nil {}
        guard let result else { throw GraphError(.storage, "the run ended without a result") }
        return result
    }

    /// The events of the next phase, or `nil` when the run is over.
    func advance() async throws -> [GraphEvent<State>]? {
        switch phase {
        case .start:
            phase = .running
            do { return try await begin() } catch { phase = .done; throw error }
        case .running:
            do { return try await step() } catch { phase = .done; throw error }
        case .done:
            return nil
        }
    }

    // MARK: Start

    private func begin() async throws -> [GraphEvent<State>] {
        try graph.check(config)
        if checkpointer != nil, threadID == nil {
            throw GraphError(.threadIDRequired, "this graph has a checkpointer, so every call needs a thread id: pass thread: \"<id>\"")
        }
        var record: ThreadRecord?
        var base: CheckpointTuple?
        if let checkpointer, let threadID {
            // One load brings the record, the checkpoint and the interrupts.
            let snapshot = try await checkpointer.load(thread: threadID, checkpointID: config.checkpointID)
            record = snapshot?.record
            try graph.checkIdentity(record)
            knownInterrupts = snapshot?.interrupts ?? []
            threadVersion = record?.version ?? 0
            latestID = record?.head
            base = snapshot?.tuple
            if let id = config.checkpointID, base == nil {
                throw GraphError(.checkpointNotFound, "thread '\(threadID)' has no checkpoint \(id); list them with stateHistory(thread:)")
            }
        }
        switch input {
        case .state(let state):
            try await startNew(graph.table.channels.enumerated().map { ($0.offset, $0.element.writeFromState(state)) }, base: base)
            return []
        case .update(let update):
            try await startNew(try update.writes.map { (try graph.table.index(of: $0.keyPath), $0.value) }, base: base)
            return []
        case .command(let command):
            if command.isEmpty || command.resume == .value(.null) || command.resume == .byID([:]) {
                throw GraphError(.emptyCommand, "the Command is empty: give it a resume value, an update or a goto")
            }
            if command.resume != nil, checkpointer == nil { _ = try graph.requireCheckpointer("resuming a run") }
            guard let base else {
                if command.resume != nil {
                    throw GraphError(.noPendingInterrupt, "thread '\(threadID ?? "")' has no checkpoint, so there is nothing to resume; start it with invoke(input, thread:)")
                }
                throw GraphError(.threadNotFound, "thread '\(threadID ?? "")' has no checkpoint; start it with invoke(input, thread:) before sending commands")
            }
            try load(base)
            try await forkIfPast(record: record)
            if let resume = command.resume, try await !applyResume(resume, hasGoto: !command.goto.isEmpty) {
                return try await stopAfterVotes(command)
            }
            try refuseIfTimedOut(record)
            try addNullWrites(command)
            markResuming()
            return mode.contains(.values) ? [.values(values)] : []
        case .proceed:
            _ = try graph.requireCheckpointer("continuing a run")
            guard let base else {
                throw GraphError(.threadNotFound, "thread '\(threadID ?? "")' has no checkpoint; start it with invoke(input, thread:)")
            }
            try load(base)
            try await forkIfPast(record: record)
            try refuseIfTimedOut(record)
            markResuming()
            return mode.contains(.values) ? [.values(values)] : []
        }
    }

    func load(_ tuple: CheckpointTuple) throws {
        let m = try graph.materialize(tuple)
        values = m.values
        sends = m.sends
        barriers = m.barriers
        startBlob = m.startBlob
        startInput = nil
        appendInfo = m.appendInfo
        current = tuple.checkpoint
        headWrites = tuple.pendingWrites
    }

    func newID(after id: CheckpointID?) -> CheckpointID {
        let floor = [id, latestID].compactMap { $0 }.max()
        let next = CheckpointID.next(after: floor, now: now)
        latestID = next
        return next
    }

    /// Replaying a past checkpoint first writes a fork of it, so the old branch stays intact.
    private func forkIfPast(record: ThreadRecord?) async throws {
        guard let past = current, config.checkpointID != nil, past.id != record?.head else { return }
        let fork = Checkpoint(
            id: newID(after: past.id), parentID: past.id, step: past.step + 1, source: .fork, createdAt: now,
            graph: graph.identity, channelVersions: past.channelVersions, versionsSeen: past.versionsSeen, metadata: config.metadata)
        pendingCheckpoints.append(NewCheckpoint(checkpoint: fork, blobs: []))
        current = fork
        headWrites = []
        try await cancelPendingInterrupts()
    }

    /// A thread that failed because a human wait timed out does not continue from its head:
    /// its task would ask the expired question again under the same id and make it
    /// answerable. New input, an edit or a fork from an earlier checkpoint starts it again.
    private func refuseIfTimedOut(_ record: ThreadRecord?) throws {
        guard let record, record.status == .failed, let reason = record.failureReason, reason.hasPrefix("timeout"),
            config.checkpointID == nil || config.checkpointID == record.head
        else { return }
        throw GraphError(
            .timeout,
            "thread '\(record.threadID)' failed (\(reason)) and cannot continue from its head; start it again with invoke(input, thread:), edit it with updateState, or replay an earlier checkpoint")
    }

    /// New input: drop unfinished tasks of the base and start from START.
    private func startNew(_ writes: [(channel: Int, value: any Sendable)], base: CheckpointTuple?) async throws {
        var versions: [String: ChannelVersion] = [:]
        var seen: [String: [String: ChannelVersion]] = [:]
        if let base {
            try load(base)
            versions = base.checkpoint.channelVersions
            seen = base.checkpoint.versionsSeen
            for task in try graph.plan(base.checkpoint, sends: sends) {
                if let trigger = task.trigger { seen[task.node, default: [:]][trigger] = versions[trigger] }
            }
            try await cancelPendingInterrupts()
        }
        let id = newID(after: base?.checkpoint.id)
        versions[Reserved.start] = id
        var blobs = checkpointer == nil ? [] : [ChannelBlob(channel: Reserved.start, version: id, encoding: .full, depth: 0, data: try graph.encodeInput(writes))]
        if !sends.isEmpty {
            versions[Reserved.sends] = id
            if checkpointer != nil { blobs.append(ChannelBlob(channel: Reserved.sends, version: id, encoding: .full, depth: 0, data: Data("[]".utf8))) }
            sends = []
        }
        let checkpoint = Checkpoint(
            id: id, parentID: base?.checkpoint.id, step: (base?.checkpoint.step ?? -2) + 1, source: .input,
            createdAt: now, graph: graph.identity, channelVersions: versions, versionsSeen: seen, metadata: config.metadata)
        pendingCheckpoints.append(NewCheckpoint(checkpoint: checkpoint, blobs: blobs))
        current = checkpoint
        headWrites = []
        startInput = writes
    }

    /// Resuming (or continuing): breakpoints already passed do not fire again at once.
    private func markResuming() {
        guard var checkpoint = current else { return }
        checkpoint.versionsSeen[Reserved.interrupt] = checkpoint.channelVersions
        current = checkpoint
        resumedThisRun = true
    }
}
