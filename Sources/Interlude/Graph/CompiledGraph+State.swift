import Foundation

extension CompiledGraph {
    /// The thread's state at its head (with the writes of tasks that already finished in the
    /// unfinished step applied), or at a given checkpoint (exactly as saved).
    /// - Parameter subgraphs: Also load the state of every subgraph a pending task runs
    ///   (``StateSnapshot/subgraphs``). Default: `false`.
    /// - Returns: `nil` when the thread has no checkpoint.
    public func getState(thread: String, checkpointID: CheckpointID? = nil, subgraphs: Bool = false) async throws -> StateSnapshot<State>? {
        let checkpointer = try requireCheckpointer("getState")
        guard let tuple = try await checkpointer.checkpoint(thread: thread, id: checkpointID) else {
            if let checkpointID {
                throw GraphError(.checkpointNotFound, "thread '\(thread)' has no checkpoint \(checkpointID)")
            }
            return nil
        }
        var result = try snapshot(tuple, thread: thread, applyPending: checkpointID == nil)
        if subgraphs {
            let done = Set(tuple.pendingWrites.filter { $0.channel == Reserved.done }.map(\.taskID))
            for task in result.tasks where !done.contains(task.id) {
                guard let sub = nodes[task.name]?.subgraph else { continue }
                let namespace = sub.namespace(node: task.name, taskID: task.id)
                let child = try await sub.childState(thread: Self.subgraphThread(parent: thread, namespace: namespace), checkpointer: checkpointer)
                if let same = child as? StateSnapshot<State> {
                    result.subgraphs[namespace] = same
                } else if let child {
                    result.otherSubgraphs[namespace] = child
                }
            }
        }
        return result
    }

    /// Checkpoints of a thread, newest first.
    /// - Parameters:
    ///   - limit: At most this many. Default: all.
    ///   - before: Only checkpoints older than this id (paging). Default: none.
    ///   - filter: Metadata members to match (`source`, `step` and caller metadata). Default: none.
    public func stateHistory(
        thread: String, limit: Int? = nil, before: CheckpointID? = nil, filter: [String: JSONValue] = [:]
    ) async throws -> [StateSnapshot<State>] {
        let checkpointer = try requireCheckpointer("stateHistory")
        return try await checkpointer.history(thread: thread, query: HistoryQuery(limit: limit, before: before, filter: filter))
            .map { try snapshot($0, thread: thread, applyPending: false) }
    }

    func snapshot(_ tuple: CheckpointTuple, thread: String, applyPending: Bool) throws -> StateSnapshot<State> {
        let m = try materialize(tuple)
        var values = m.values
        let tasks = try plan(tuple.checkpoint, sends: m.sends)
        var byTask: [String: [PendingWrite]] = [:]
        for write in tuple.pendingWrites { byTask[write.taskID, default: []].append(write) }
        var taskSnapshots: [TaskSnapshot] = []
        var next: [String] = []
        var interrupts: [Interrupt] = []
        var finished: [(channel: Int, value: any Sendable)] = []
        for task in tasks {
            let writes = byTask[task.id] ?? []
            let done = writes.contains { $0.channel == Reserved.done }
            var raised: [Interrupt] = []
            if let saved = writes.first(where: { $0.channel == Reserved.interrupt }) {
                raised = try Interrupt.decodeList(saved.value)
            }
            var result: [String: JSONValue]?
            if done {
                let output = try decodeOutput(writes)
                finished += output.stateWrites
                var fields: [String: JSONValue] = [:]
                for write in output.stateWrites {
                    let channel = table.channels[write.channel]
                    fields[channel.name] = try JSONValue(json: try channel.encodeWrite(write.value))
                }
                result = fields
            } else {
                interrupts += raised
            }
            var error: String?
            if let saved = writes.first(where: { $0.channel == Reserved.error }) {
                error = (try? JSONValue(json: saved.value))?["message"]?.stringValue
            }
            taskSnapshots.append(TaskSnapshot(id: task.id, name: task.node, interrupts: raised, result: result, error: error))
            if !(applyPending && done) { next.append(task.node) }
        }
        if applyPending, !finished.isEmpty { _ = try apply(finished, to: &values, writer: "finished tasks") }
        let checkpoint = tuple.checkpoint
        return StateSnapshot(
            values: values, next: next, tasks: taskSnapshots, threadID: thread, checkpointID: checkpoint.id,
            parentCheckpointID: checkpoint.parentID, createdAt: checkpoint.createdAt, source: checkpoint.source,
            step: checkpoint.step, metadata: checkpoint.metadata, interrupts: interrupts)
    }

    /// Edits a thread's state as if `asNode` had written `values`, creating a new checkpoint.
    ///
    /// The edges and routers of `asNode` decide what runs next; naming a pending node marks
    /// it done. On a past checkpoint this forks: the new checkpoint's parent is that one and
    /// its pending writes are ignored. `updateState(thread:, values: nil, asNode: END)` clears
    /// a paused thread (no next, no interrupts), keeping writes of tasks that finished.
    /// - Parameters:
    ///   - values: Writes applied through the reducers. `nil` writes nothing.
    ///   - asNode: The node the writes come from. Default: the only node that could have
    ///     written last; fails with `.ambiguousUpdate` when there are several.
    ///   - checkpointID: Edit this checkpoint instead of the head (fork). Default: head.
    /// - Returns: The new checkpoint's id.
    @discardableResult
    public func updateState(
        thread: String, values update: Update<State>?, asNode: String? = nil, checkpointID: CheckpointID? = nil,
        config: RunConfig = RunConfig()
    ) async throws -> CheckpointID {
        let checkpointer = try requireCheckpointer("updateState")
        let record = try await checkpointer.thread(thread)
        try checkIdentity(record)
        let run = Run(graph: self, threadID: thread, input: .proceed, config: config, mode: [])
        run.threadVersion = record?.version ?? 0
        run.latestID = record?.head
        var base = Checkpoint(
            id: CheckpointID(high: 0, low: 0), parentID: nil, step: -1, source: .update, createdAt: clock.now,
            graph: identity, channelVersions: [:], versionsSeen: [:])
        var hasBase = false
        if let tuple = try await checkpointer.checkpoint(thread: thread, id: checkpointID) {
            try run.load(tuple)
            base = tuple.checkpoint
            hasBase = true
        } else if let checkpointID {
            throw GraphError(.checkpointNotFound, "thread '\(thread)' has no checkpoint \(checkpointID)")
        }
        let isHead = hasBase && base.id == record?.head
        if !isHead { run.headWrites = [] }

        let tasks = try plan(base, sends: run.sends)
        var byTask: [String: [PendingWrite]] = [:]
        for write in run.headWrites { byTask[write.taskID, default: []].append(write) }
        let finished = tasks.filter { byTask[$0.id]?.contains { $0.channel == Reserved.done } ?? false }

        // Which node the update comes from.
        let node: String
        if let asNode {
            guard asNode == END || asNode == START || nodes[asNode] != nil else {
                throw GraphError(.unknownNode, "updateState(asNode: '\(asNode)'): there is no such node; nodes: \(nodeNames.joined(separator: ", "))")
            }
            node = asNode
        } else {
            // As in LangGraph: the node that wrote last, START when only the input was
            // written (or nothing ran yet).
            let lastWriters = Self.lastWriters(base, nodes: [START] + nodeNames)
            if lastWriters.isEmpty {
                node = START
            } else if lastWriters.count == 1 {
                node = lastWriters[0]
            } else {
                throw GraphError(
                    .ambiguousUpdate,
                    "ambiguous update, name asNode: \(lastWriters.isEmpty ? "no node has run yet" : "nodes \(lastWriters.joined(separator: ", ")) ran last"); call updateState(thread:values:asNode:)")
            }
        }

        var working = run.values
        var changed = Set<Int>()
        var targets: [String] = []
        var newSends: [SendPacket] = []
        // Keep the state writes of tasks that finished in the unfinished step. The update
        // replaces the pending step, as in LangGraph: every pending task counts as seen and
        // pending sends are dropped, so only what `asNode` leads to runs next (nothing for END).
        var joins: [(node: String, joins: [String])] = []
        if isHead, !finished.isEmpty {
            var writes: [(channel: Int, value: any Sendable)] = []
            for task in finished {
                let output = try decodeOutput(byTask[task.id]!)
                writes += output.stateWrites
                joins.append((task.node, output.joins))
            }
            changed.formUnion(try apply(writes, to: &working, writer: "finished tasks"))
        }
        let ran = tasks
        if node == END {
            if let update, !update.isEmpty {
                changed.formUnion(try apply(try update.writes.map { (try table.index(of: $0.keyPath), $0.value) }, to: &working, writer: "updateState"))
            }
        } else {
            let writes = try (update?.writes ?? []).map { (try table.index(of: $0.keyPath), $0.value) }
            let task = PlannedTask<State>(id: "update", node: node, trigger: Reserved.trigger(node), pushIndex: nil, payload: nil)
            let output = try await Run.route(task, graph: self, writes: writes, goto: [], input: working)
            changed.formUnion(try apply(writes, to: &working, writer: "updateState as '\(node)'"))
            targets += output.targets
            newSends += output.sends
            joins.append((node, output.joins))
        }
        let joined = run.countJoins(joins)
        try await run.cancelPendingInterrupts()
        let id = run.newID(after: base.id)
        try run.saveCheckpoint(
            from: base, id: id, values: working, changed: changed, ran: ran, targets: targets + joined.targets,
            newSends: (newSends.isEmpty && run.sends.isEmpty) ? nil : newSends, barriers: joined.barriers, source: .update)
        if !hasBase {
            // A new thread: the first checkpoint has no parent.
            run.pendingCheckpoints[0].checkpoint.parentID = nil
        }
        let status: ThreadStatus = try plan(run.current!, sends: run.sends).isEmpty ? .completed : .ready
        try await run.commitPending(status: status, isFinal: true)
        return id
    }

    /// The nodes whose last run is the newest among all nodes' runs: who wrote last.
    static func lastWriters(_ checkpoint: Checkpoint, nodes: [String]) -> [String] {
        var newest: ChannelVersion?
        var writers: [String] = []
        for node in nodes {
            guard let seen = checkpoint.versionsSeen[node]?.values.max() else { continue }
            if newest == nil || seen > newest! {
                newest = seen
                writers = [node]
            } else if seen == newest {
                writers.append(node)
            }
        }
        return writers
    }

    // MARK: Deadlines

    /// The pending interrupts of a thread that have a deadline: what expires when.
    public func deadlines(thread: String) async throws -> [InterruptRecord] {
        let checkpointer = try requireCheckpointer("deadlines")
        return try await checkpointer.interrupts(thread: thread)
            .filter { $0.status == .pending && $0.deadline != nil }
            .sorted { $0.deadline! < $1.deadline! }
    }

    /// Applies every deadline of the thread that has passed at `now`: answers with the
    /// declared default and continues the run, or ends the thread failed with reason
    /// `timeout`. The worker's timer sweep calls this; a resume that comes later is refused
    /// as already resolved.
    /// - Returns: How the run ended, or `nil` when nothing was due.
    @discardableResult
    public func expire(thread: String, now: Date? = nil, config: RunConfig = RunConfig()) async throws -> RunResult<State>? {
        let at = now ?? clock.now
        let due = try await deadlines(thread: thread).filter { $0.deadline! <= at }
        guard !due.isEmpty else { return nil }
        if let escalated = try await Run(graph: self, threadID: thread, input: .proceed, config: config, mode: []).escalate(due, at: at) {
            return escalated
        }
        var config = config
        config.actor = config.actor ?? "timeout"
        let failing = due.filter { if case .answer = $0.onTimeout { false } else { true } }
        if !failing.isEmpty {
            let reason = "timeout: interrupt \(failing.map(\.id).joined(separator: ", ")) passed its deadline with no answer"
            return try await end(thread: thread, reason: reason, expiring: Set(failing.map(\.id)), at: at, config: config)
        }
        var answers: [String: JSONValue] = [:]
        for record in due { if case .answer(let value) = record.onTimeout { answers[record.id] = value } }
        let run = Run(graph: self, threadID: thread, input: .command(Command(resumeByID: answers)), config: config, mode: [])
        run.expiring = Set(answers.keys)
        return try await run.finish()
    }
}
