import Foundation

/// How one task of a superstep ended.
enum TaskResult: Sendable {
    case done(TaskOutput, reused: Bool)
    case interrupted([Interrupt])
    case failed(any Error)

    var output: TaskOutput? { if case .done(let output, _) = self { output } else { nil } }
}

extension Run {
    /// One superstep: plan, check breakpoints and the limit, run the tasks concurrently, then
    /// apply every write in a fixed order and save a checkpoint, or save what finished and
    /// report the pause or failure.
    func step() async throws -> [GraphEvent<State>] {
        guard var checkpoint = current else { throw GraphError(.storage, "no checkpoint to run from") }
        var nextID = CheckpointID.next(after: [checkpoint.id, latestID].compactMap { $0 }.max(), now: now)
        var working = values
        var changed = Set<Int>()

        // A Command's update and goto apply before the tasks run, so the tasks see them.
        let nullWrites = headWrites.filter { $0.taskID == Reserved.nullTask }
        var stepSends = sends
        var nullResume: NullResume?
        if !nullWrites.isEmpty {
            let output = try graph.decodeOutput(nullWrites)
            changed.formUnion(try graph.apply(output.stateWrites, to: &working, writer: "Command update"))
            if !output.targets.isEmpty {
                // As in LangGraph, the goto is written before the step: its trigger gets a
                // version of its own, older than this step's writes (so a node of this step
                // that also routes there runs it again after), and a resume has seen it (so
                // a breakpoint on the node waiting at the head does not fire again).
                let gotoVersion = nextID
                nextID = CheckpointID.next(after: gotoVersion, now: now)
                for target in output.targets {
                    checkpoint.channelVersions[Reserved.trigger(target)] = gotoVersion
                    if resumedThisRun { checkpoint.versionsSeen[Reserved.interrupt, default: [:]][Reserved.trigger(target)] = gotoVersion }
                }
            }
            stepSends += output.sends
            if let saved = nullWrites.first(where: { $0.channel == Reserved.resume }), let value = try? JSONValue(json: saved.value), value != .null {
                nullResume = NullResume(value)
            }
        }

        if nullResume == nil { nullResume = inheritedResume }

        let tasks = try graph.plan(checkpoint, sends: stepSends)
        if tasks.isEmpty {
            if !changed.isEmpty {
                try saveCheckpoint(from: checkpoint, id: nextID, values: working, changed: changed, ran: [], targets: [], newSends: stepSends.isEmpty ? nil : [], source: .update)
            }
            return try await stop(.completed)
        }

        let before = config.interruptBefore.map { Set($0) } ?? graph.interruptBefore
        if !before.isEmpty, tasks.contains(where: { graph.breakpointMatches(before, $0.node) }), graph.updatedSinceLastInterrupt(checkpoint) {
            return try await stop(.interrupted)
        }

        if !(tasks.count == 1 && tasks[0].node == START) {
            steps += 1
            if steps > config.recursionLimit {
                try await commitPending(status: .ready, isFinal: true)
                throw GraphError(
                    .recursionLimit,
                    "the run took more than \(config.recursionLimit) supersteps without finishing; every checkpoint reached is saved (head at step \(checkpoint.step)). If the loop is intended, continue with invoke(thread:) and a higher RunConfig.recursionLimit; otherwise check the graph's exit condition")
            }
        }

        // Run what has not already finished (writes saved before a pause or failure are reused).
        var byTask: [String: [PendingWrite]] = [:]
        for write in headWrites where write.taskID != Reserved.nullTask { byTask[write.taskID, default: []].append(write) }
        var results = [TaskResult?](repeating: nil, count: tasks.count)
        var toRun: [Int] = []
        for (i, task) in tasks.enumerated() {
            let saved = byTask[task.id] ?? []
            if saved.contains(where: { $0.channel == Reserved.done }) {
                results[i] = .done(try graph.decodeOutput(saved), reused: true)
            } else {
                toRun.append(i)
            }
        }
        var answers: [String: [JSONValue]] = [:]
        var subgraphAnswers: [String: [String: JSONValue]] = [:]
        for (taskID, writes) in byTask {
            if let saved = writes.first(where: { $0.channel == Reserved.resume }) {
                answers[taskID] = try JSONValue(json: saved.value).arrayValue ?? []
            }
            if let saved = writes.first(where: { $0.channel == Reserved.subgraphResume }) {
                subgraphAnswers[taskID] = try JSONValue(json: saved.value).objectValue ?? [:]
            }
        }
        let step = checkpoint.step + 1
        let snapshot = working
        if toRun.count == 1 {
            let i = toRun[0]
            results[i] = await runTask(
                tasks[i], values: snapshot, answers: answers[tasks[i].id] ?? [], subgraphAnswers: subgraphAnswers[tasks[i].id] ?? [:],
                nullResume: nullResume, step: step)
        } else if !toRun.isEmpty {
            let graph = self.graph
            let threadID = self.threadID
            let nullResume = nullResume
            await withTaskGroup(of: (Int, TaskResult).self) { group in
                for i in toRun {
                    let task = tasks[i]
                    let taskAnswers = answers[task.id] ?? []
                    let subAnswers = subgraphAnswers[task.id] ?? [:]
                    group.addTask {
                        (i, await Self.execute(
                            task, graph: graph, threadID: threadID, values: snapshot, answers: taskAnswers, subgraphAnswers: subAnswers,
                            nullResume: nullResume, step: step))
                    }
                }
                for await (i, result) in group { results[i] = result }
            }
        }
        let outcomes = results.map { $0! }
        let checkpointID = checkpoint.id
        let savedOnHead = headWrites.contains { $0.channel == Reserved.interrupt || $0.channel == Reserved.resume || $0.channel == Reserved.subgraphResume }
        // A resume value given with nothing pending answered the first `interrupt` asked: it
        // becomes that task's answer and is used up (a later pause does not offer it again).
        var consumedResume: [PendingWrite] = []
        if let nullResume, let taken = nullResume.taken, let task = tasks.first(where: { $0.id == taken.taskID }) {
            consumedResume = [
                PendingWrite(taskID: task.id, node: task.node, index: Reserved.resumeIndex, channel: Reserved.resume, value: JSONValue.array((answers[task.id] ?? []) + [taken.value]).jsonData),
                PendingWrite(taskID: Reserved.nullTask, node: Reserved.input, index: Reserved.resumeIndex, channel: Reserved.resume, value: Data("null".utf8)),
            ]
        }

        // Failure: keep what finished, report the first error in task order.
        if let failed = outcomes.firstIndex(where: { if case .failed = $0 { true } else { false } }), case .failed(let error) = outcomes[failed] {
            if resumedThisRun, let graphError = error as? GraphError, graphError.code == .invalidResumeValue {
                throw GraphError(.invalidResumeValue, "node '\(tasks[failed].node)' could not use the answer: \(graphError.message); nothing was applied, resume again with a valid value")
            }
            // A sibling's interrupt stays pending, as in LangGraph: a resume answers it while
            // the failed node re-runs.
            let known = outcomes.contains(where: { if case .interrupted = $0 { true } else { false } }) ? try await loadKnownInterrupts() : []
            var writes: [PendingWrite] = consumedResume
            for (i, task) in tasks.enumerated() {
                switch outcomes[i] {
                case .done(let output, let reused): if !reused { writes += try graph.encode(output, task: task) }
                case .failed(let error):
                    writes.append(PendingWrite(taskID: task.id, node: task.node, index: Reserved.errorIndex, channel: Reserved.error, value: try JSONCoding.encode(["node": task.node, "message": "\(error)"])))
                case .interrupted(let list):
                    // An empty list: a subgraph stopped at a static breakpoint; nothing to keep.
                    if !list.isEmpty { writes.append(keepInterrupts(list, of: task, known: known)) }
                }
            }
            upsertHeadWrites(writes)
            try await commitPending(status: .ready, failure: "node '\(tasks[failed].node)' failed", isFinal: true)
            throw GraphError(.nodeFailed, "node '\(tasks[failed].node)' failed: \(error); writes of nodes that finished are saved, so invoke(thread:) re-runs only the failed ones", underlying: error)
        }

        // Pause: keep what finished and the questions asked.
        if outcomes.contains(where: { if case .interrupted = $0 { true } else { false } }) {
            let known = try await loadKnownInterrupts()
            var writes: [PendingWrite] = consumedResume
            var raised: [Interrupt] = []
            var events: [GraphEvent<State>] = []
            var finished: [(channel: Int, value: any Sendable)] = []
            for (i, task) in tasks.enumerated() {
                switch outcomes[i] {
                case .done(let output, let reused):
                    if !reused { writes += try graph.encode(output, task: task) }
                    finished += output.stateWrites
                    if streamsUpdates(of: task) { events.append(.updates(node: task.node, writes: try json(output))) }
                case .interrupted(let list) where list.isEmpty:
                    // A subgraph stopped at a static breakpoint: the task stays pending with no
                    // question, and continuing the parent continues the subgraph.
                    break
                case .interrupted(let list):
                    let write = keepInterrupts(list, of: task, known: known)
                    raised += try Interrupt.decodeList(write.value)
                    writes.append(write)
                case .failed: break
                }
            }
            upsertHeadWrites(writes)
            // The result shows the writes of siblings that finished, as getState and
            // LangGraph's output do; the checkpoint keeps them as pending writes.
            var shown = working
            values = (try? graph.apply(finished, to: &shown, writer: "finished tasks")) != nil ? shown : working
            return events + (try await stop(.interrupted, interrupts: raised))
        }

        // Everything finished: apply all writes in the fixed order and save the checkpoint.
        var stateWrites: [(channel: Int, value: any Sendable)] = []
        var targets: [String] = []
        var newSends: [SendPacket] = []
        var events: [GraphEvent<State>] = []
        var finishedJoins: [(node: String, joins: [String])] = []
        for (i, task) in tasks.enumerated() {
            guard let output = outcomes[i].output else { continue }
            stateWrites += output.stateWrites
            targets += output.targets
            newSends += output.sends
            if !output.joins.isEmpty { finishedJoins.append((task.node, output.joins)) }
            if streamsUpdates(of: task) { events.append(.updates(node: task.node, writes: try json(output))) }
        }
        // A closure, not a key path: a key path over a generic type is built anew at every call.
        let writers = Array(Set(tasks.map { $0.node })).sorted().joined(separator: ", ")
        do {
            changed.formUnion(try graph.apply(stateWrites, to: &working, writer: writers))
        } catch {
            try await commitPending(status: .ready, isFinal: true)
            throw error
        }
        if savedOnHead || !consumedResume.isEmpty {
            // Keep the answers' effects on the checkpoint that asked, for history.
            var writes: [PendingWrite] = consumedResume
            for (i, task) in tasks.enumerated() {
                if case .done(let output, let reused) = outcomes[i], !reused { writes += try graph.encode(output, task: task) }
            }
            upsertHeadWrites(writes)
            for var record in try await loadKnownInterrupts() where record.status == .pending && record.checkpointID == checkpointID {
                record.status = .cancelled
                record.resolvedAt = now
                record.resolvedBy = config.actor ?? "superseded"
                stage(record)
            }
        }
        let joined = countJoins(finishedJoins)
        try saveCheckpoint(
            from: checkpoint, id: nextID, values: working, changed: changed, ran: tasks, targets: targets + joined.targets,
            newSends: (newSends.isEmpty && stepSends.isEmpty) ? nil : newSends, barriers: joined.barriers, source: .loop)
        if mode.contains(.values) { events.append(.values(working)) }

        let after = config.interruptAfter.map { Set($0) } ?? graph.interruptAfter
        if !after.isEmpty, tasks.contains(where: { graph.breakpointMatches(after, $0.node) }), let head = current, graph.updatedSinceLastInterrupt(head) {
            return events + (try await stop(.interrupted))
        }
        if !graph.hasTasks(current!, sends: sends) {
            return events + (try await stop(.completed))
        }
        if config.durability == .sync { try await commitPending(status: .ready, isFinal: false) }
        return events
    }

    /// Saves the checkpoint that ends a superstep (or an update) as the new working head.
    func saveCheckpoint(
        from checkpoint: Checkpoint, id: CheckpointID, values newValues: State, changed: Set<Int>,
        ran tasks: [PlannedTask<State>], targets: [String], newSends: [SendPacket]?, barriers changedBarriers: [String: [String]] = [:],
        source: CheckpointSource
    ) throws {
        var versions = checkpoint.channelVersions
        for index in changed { versions[graph.table.channels[index].name] = id }
        for target in targets { versions[Reserved.trigger(target)] = id }
        var seen = checkpoint.versionsSeen
        for task in tasks {
            if let trigger = task.trigger { seen[task.node, default: [:]][trigger] = checkpoint.channelVersions[trigger] }
        }
        // Without a checkpointer nothing is stored, so nothing needs encoding.
        var blobs = checkpointer == nil ? [] : try graph.blobs(for: changed, values: newValues, version: id, previous: checkpoint, appendInfo: &appendInfo)
        if let newSends {
            versions[Reserved.sends] = id
            if checkpointer != nil {
                blobs.append(ChannelBlob(channel: Reserved.sends, version: id, encoding: .full, depth: 0, data: try JSONCoding.encode(newSends)))
            }
            sends = newSends
        }
        for (channel, sources) in changedBarriers.sorted(by: { $0.key < $1.key }) {
            versions[channel] = id
            if checkpointer != nil {
                blobs.append(ChannelBlob(channel: channel, version: id, encoding: .full, depth: 0, data: try JSONCoding.encode(sources)))
            }
            barriers[channel] = sources
        }
        var metadata = config.metadata
        if !expiring.isEmpty {
            // Only the step that consumed the default answers timed out, not the steps after it.
            metadata["timed_out"] = .array(expiring.sorted().map { .string($0) })
            expiring = []
        }
        let next = Checkpoint(
            id: id, parentID: checkpoint.id, step: checkpoint.step + 1, source: source, createdAt: now,
            graph: graph.identity, channelVersions: versions, versionsSeen: seen, metadata: metadata)
        pendingCheckpoints.append(NewCheckpoint(checkpoint: next, blobs: blobs))
        current = next
        latestID = max(latestID ?? id, id)
        headWrites = []
        values = newValues
    }

    /// Counts finished sources toward their join barriers: a barrier that has every source
    /// fires its target in the next superstep and starts empty again.
    func countJoins(_ finished: [(node: String, joins: [String])]) -> (targets: [String], barriers: [String: [String]]) {
        var seen: [String: Set<String>] = [:]
        for (node, joins) in finished {
            for channel in joins {
                if seen[channel] == nil { seen[channel] = Set(barriers[channel] ?? []) }
                seen[channel]!.insert(node)
            }
        }
        var targets: [String] = []
        var changed: [String: [String]] = [:]
        for (channel, sources) in seen {
            guard let join = graph.joins[channel] else { continue }
            if Set(join.sources).isSubset(of: sources) {
                targets.append(join.target)
                changed[channel] = []
            } else {
                changed[channel] = sources.sorted()
            }
        }
        return (targets.sorted(), changed)
    }

    /// `true` when the stream reports this task's writes: the input (`START`) is not a node's
    /// update, as in LangGraph, where the start node is hidden from the updates stream.
    func streamsUpdates(of task: PlannedTask<State>) -> Bool {
        mode.contains(.updates) && task.node != START
    }

    func json(_ output: TaskOutput) throws -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for write in output.stateWrites {
            let channel = graph.table.channels[write.channel]
            result[channel.name] = try JSONValue(json: try channel.encodeWrite(write.value))
        }
        return result
    }

    /// Ends the invocation: commits and reports.
    func stop(_ status: ThreadStatus, interrupts: [Interrupt] = []) async throws -> [GraphEvent<State>] {
        try await commitPending(status: status, isFinal: true)
        phase = .done
        let head = current!
        let done = Set(headWrites.filter { $0.channel == Reserved.done }.map(\.taskID))
        let next = status == .completed ? [] : try graph.plan(head, sends: sends).filter { !done.contains($0.id) }.map { $0.node }
        let result = RunResult(
            values: values, interrupts: interrupts, next: next, checkpointID: checkpointer == nil ? nil : head.id,
            status: status, failureReason: nil)
        self.result = result
        var events: [GraphEvent<State>] = []
        if !interrupts.isEmpty { events.append(.interrupts(interrupts)) }
        events.append(.finished(result))
        return events
    }

    /// Commits everything staged, compare-and-set on the thread version.
    func commitPending(status: ThreadStatus, failure: String? = nil, isFinal: Bool) async throws {
        guard let checkpointer, let threadID, let head = current else {
            pendingCheckpoints = []
            pendingWriteOrder = []
            pendingWrites = [:]
            return
        }
        let interrupts = pendingInterruptOrder.compactMap { pendingInterrupts[$0] }
        var extras = CommitExtras()
        if let hook = config.commitHook {
            let context = CommitContext(
                threadID: threadID, head: head.id, step: head.step, status: status,
                newInterrupts: interrupts.filter { $0.status == .pending }, interruptChanges: interrupts,
                isFinal: isFinal, isFirst: commits == 0,
                values: isFinal && status == .completed ? try JSONValue(encoding: values) : nil, failure: failure)
            extras = try hook(context)
        }
        let commit = StepCommit(
            threadID: threadID, expectedVersion: threadVersion, graph: graph.identity, checkpoints: pendingCheckpoints,
            writes: pendingWriteOrder.map { CheckpointWrites(checkpointID: $0, writes: pendingWrites[$0]!) },
            head: head.id, status: status, failureReason: status == .failed ? failure : nil,
            interrupts: interrupts, extras: extras, committedAt: now)
        threadVersion = try await checkpointer.commit(commit)
        commits += 1
        pendingCheckpoints = []
        pendingWriteOrder = []
        pendingWrites = [:]
        pendingInterruptOrder = []
        pendingInterrupts = [:]
    }

    /// The interrupt write of a task that paused, with the deadlines first given kept, and
    /// records staged for questions not already pending.
    func keepInterrupts(_ list: [Interrupt], of task: PlannedTask<State>, known: [InterruptRecord]) -> PendingWrite {
        let prior = priorInterrupts(of: task.id)
        let kept = list.map { interrupt -> Interrupt in
            var interrupt = interrupt
            if let earlier = prior[interrupt.id] {
                interrupt.votes = earlier.votes
                if earlier.escalation != nil {
                    interrupt.escalation = earlier.escalation
                    interrupt.approvers = earlier.approvers
                }
            }
            if let old = known.first(where: { $0.id == interrupt.id }) {
                interrupt.deadline = old.deadline
                interrupt.onTimeout = old.onTimeout
            }
            return interrupt
        }
        for interrupt in kept where known.first(where: { $0.id == interrupt.id })?.status != .pending {
            stage(newRecord(interrupt))
        }
        return PendingWrite(taskID: task.id, node: task.node, index: Reserved.interruptIndex, channel: Reserved.interrupt, value: Interrupt.encodeList(kept))
    }

    func runTask(
        _ task: PlannedTask<State>, values: State, answers: [JSONValue], subgraphAnswers: [String: JSONValue], nullResume: NullResume?, step: Int
    ) async -> TaskResult {
        if task.node == START {
            do {
                let writes = try startInput ?? (startBlob.map { try graph.decodeInput($0) } ?? [])
                return .done(try await Self.route(task, graph: graph, writes: writes, goto: [], input: values), reused: false)
            } catch {
                return .failed(error)
            }
        }
        return await Self.execute(
            task, graph: graph, threadID: threadID, values: values, answers: answers, subgraphAnswers: subgraphAnswers, nullResume: nullResume, step: step)
    }

    /// Runs one node with its retry policy. An interrupt is never retried, and a node that
    /// swallowed its interrupt signal is still interrupted.
    static func execute(
        _ task: PlannedTask<State>, graph: CompiledGraph<State>, threadID: String?, values: State, answers: [JSONValue],
        subgraphAnswers: [String: JSONValue] = [:], nullResume: NullResume? = nil, step: Int
    ) async -> TaskResult {
        guard let node = graph.nodes[task.node] else {
            return .failed(GraphError(.unknownNode, "a task targets '\(task.node)', which is not a node of graph '\(graph.identity.name)'"))
        }
        // A Send's input: the node's own payload type, or a whole state.
        let input: State
        let body: @Sendable (State, NodeContext) async throws -> Command<State>
        switch (task.payload, node.payloadAction) {
        case (let payload?, let typed?):
            input = values
            body = { _, context in try await typed(payload, context) }
        case (let payload?, nil):
            do { input = try payload.decode(State.self) } catch { return .failed(error) }
            body = node.action
        case (nil, _):
            input = values
            body = node.action
        }
        var attempt = 1
        var delay = node.retry?.initialDelay ?? .zero
        while true {
            let context = NodeContext(
                node: task.node, taskID: task.id, threadID: threadID, step: step, resumeValues: answers, nullResume: nullResume,
                subgraphAnswers: subgraphAnswers, checkpointer: graph.checkpointer, clock: graph.clock)
            let command: Command<State>
            do {
                command = try await NodeContext.$current.withValue(context) { try await body(input, context) }
            } catch {
                if !context.raised.isEmpty { return .interrupted(context.raised) }
                if error is SubgraphBreakpoint { return .interrupted([]) }
                if let graphError = error as? GraphError, graphError.code == .invalidResumeValue { return .failed(error) }
                if let policy = node.retry, attempt < policy.maxAttempts, policy.retryIf(error) {
                    attempt += 1
                    if delay > .zero { try? await Task.sleep(for: delay) }
                    delay = delay * policy.backoffFactor
                    continue
                }
                return .failed(error)
            }
            if !context.raised.isEmpty { return .interrupted(context.raised) }
            do {
                let writes = try command.update.writes.map { (try graph.table.index(of: $0.keyPath), $0.value) }
                return .done(try await route(task, graph: graph, writes: writes, goto: command.goto, input: input), reused: false)
            } catch {
                return .failed(error)
            }
        }
    }

    /// Where a finished task sends control: its `goto`, its edges, and its routers evaluated
    /// on the state as this task left it.
    static func route(
        _ task: PlannedTask<State>, graph: CompiledGraph<State>, writes: [(channel: Int, value: any Sendable)],
        goto: [Goto<State>], input: State
    ) async throws -> TaskOutput {
        var output = TaskOutput(stateWrites: writes)
        var seen = Set<String>()
        func add(_ target: Goto<State>, from source: String, allowed: [String]?) throws {
            switch target {
            case .node(let name):
                if name == END { return }
                guard graph.nodes[name] != nil else {
                    throw GraphError(.unknownNode, "\(source) of node '\(task.node)' goes to '\(name)', which is not a node; nodes: \(graph.nodeNames.joined(separator: ", "))")
                }
                if let allowed, !allowed.contains(name) {
                    throw GraphError(.unknownNode, "\(source) of node '\(task.node)' goes to '\(name)', which is not among its destinations \(allowed)")
                }
                if seen.insert(name).inserted { output.targets.append(name) }
            case .send(let send):
                output.sends.append(try graph.packet(send, from: "a Send from node '\(task.node)'"))
            }
        }
        for target in goto { try add(target, from: "goto", allowed: nil) }
        for name in graph.edgesFrom[task.node] ?? [] { try add(.node(name), from: "an edge", allowed: nil) }
        output.joins = graph.joinsFrom[task.node] ?? []
        if let branches = graph.branches[task.node], !branches.isEmpty {
            var local = input
            _ = try graph.apply(writes, to: &local, writer: task.node)
            for branch in branches {
                for target in try await branch.router(local) {
                    try add(target, from: "a conditional edge", allowed: branch.destinations.map { $0 + [END] })
                }
            }
        }
        return output
    }
}
