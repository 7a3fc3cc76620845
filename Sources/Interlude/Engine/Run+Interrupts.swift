import Foundation

extension Run {
    /// The interrupts raised by tasks of the working head that have not finished.
    func openInterrupts() throws -> [Interrupt] {
        let done = Set(headWrites.filter { $0.channel == Reserved.done }.map(\.taskID))
        return try headWrites.filter { $0.channel == Reserved.interrupt && !done.contains($0.taskID) }
            .flatMap { try Interrupt.decodeList($0.value) }
    }

    func loadKnownInterrupts() async throws -> [InterruptRecord] {
        if let knownInterrupts { return knownInterrupts }
        guard let checkpointer, let threadID else { return [] }
        let loaded = try await checkpointer.interrupts(thread: threadID)
        knownInterrupts = loaded
        return loaded
    }

    func record(_ id: String) -> InterruptRecord? {
        pendingInterrupts[id] ?? knownInterrupts?.first { $0.id == id }
    }

    func stage(_ record: InterruptRecord) {
        if pendingInterrupts[record.id] == nil { pendingInterruptOrder.append(record.id) }
        pendingInterrupts[record.id] = record
        if let i = knownInterrupts?.firstIndex(where: { $0.id == record.id }) {
            knownInterrupts?[i] = record
        } else {
            knownInterrupts?.append(record)
        }
    }

    func stageWrites(_ writes: [PendingWrite], on checkpoint: CheckpointID) {
        guard !writes.isEmpty else { return }
        if pendingWrites[checkpoint] == nil { pendingWriteOrder.append(checkpoint) }
        pendingWrites[checkpoint, default: []].append(contentsOf: writes)
    }

    /// Replaces or adds writes on the working head and stages them for the next commit.
    func upsertHeadWrites(_ writes: [PendingWrite]) {
        for write in writes {
            if let i = headWrites.firstIndex(where: { $0.taskID == write.taskID && $0.index == write.index }) {
                headWrites[i] = write
            } else {
                headWrites.append(write)
            }
        }
        if let id = current?.id { stageWrites(writes, on: id) }
    }

    /// Checks a resume against the pending interrupts and records the answers as writes of
    /// the tasks that asked. Nothing is written when any part is refused.
    /// - Returns: `false` when the answers were only votes toward a quorum: nothing wakes.
    @discardableResult
    func applyResume(_ resume: Resume, hasGoto: Bool = false) async throws -> Bool {
        let known = try await loadKnownInterrupts()
        let open = try openInterrupts().filter { interrupt in
            guard let record = known.first(where: { $0.id == interrupt.id }) else { return true }
            return record.status == .pending
        }
        let thread = threadID ?? ""
        var answers: [(Interrupt, JSONValue)] = []
        switch resume {
        case .value(let value):
            if open.isEmpty {
                if let last = try openInterrupts().last, let record = known.first(where: { $0.id == last.id }), record.status != .pending {
                    throw GraphError(.alreadyResolved, "interrupt '\(last.id)' of thread '\(thread)' is already \(record.status.rawValue); to change an answer, fork from an earlier checkpoint")
                }
                // As in LangGraph, the value waits for the first `interrupt` of the next step
                // (at a static breakpoint, after an edit, after a failure). With nothing left
                // to run it could answer nothing, so it is refused rather than dropped.
                guard try hasTasksToRun() || hasGoto else {
                    throw GraphError(
                        .noPendingInterrupt,
                        "thread '\(thread)' is not waiting on any interrupt and has nothing left to run, so nothing would use the answer; start it again with invoke(input, thread:)")
                }
                upsertHeadWrites([PendingWrite(taskID: Reserved.nullTask, node: Reserved.input, index: Reserved.resumeIndex, channel: Reserved.resume, value: value.jsonData)])
                return true
            }
            if open.count > 1 {
                throw GraphError(
                    .ambiguousResume,
                    "thread '\(thread)' has \(open.count) pending interrupts (\(open.map(\.id).joined(separator: ", "))); resume with answers: [id: value] naming each one you answer")
            }
            answers = [(open[0], value)]
        case .byID(let map):
            for (id, value) in map.sorted(by: { $0.key < $1.key }) {
                if let interrupt = open.first(where: { $0.id == id }) {
                    answers.append((interrupt, value))
                } else if let record = known.first(where: { $0.id == id }), record.status != .pending {
                    throw GraphError(.alreadyResolved, "interrupt '\(id)' of thread '\(thread)' is already \(record.status.rawValue); to change an answer, fork from an earlier checkpoint")
                } else {
                    throw GraphError(
                        .unknownInterrupt,
                        "thread '\(thread)' has no pending interrupt '\(id)'; pending: \(open.isEmpty ? "none" : open.map(\.id).joined(separator: ", "))")
                }
            }
        }
        try checkApprovers(answers)
        answers = try answers.map { interrupt, value in (interrupt, try checkedAnswer(value, to: interrupt)) }
        answers = try countVotes(answers)
        if answers.isEmpty { return false }
        for (interrupt, value) in answers where interrupt.namespace != nil {
            // A subgraph's question: answered by id, the subgraph node passes it on.
            var map: [String: JSONValue] = [:]
            if let saved = headWrites.first(where: { $0.taskID == interrupt.taskID && $0.channel == Reserved.subgraphResume }) {
                map = try JSONValue(json: saved.value).objectValue ?? [:]
            }
            map[interrupt.id] = value
            upsertHeadWrites([PendingWrite(taskID: interrupt.taskID, node: interrupt.node, index: Reserved.subgraphResumeIndex, channel: Reserved.subgraphResume, value: JSONValue.object(map).jsonData)])
        }
        for (interrupt, value) in answers {
            var record = known.first(where: { $0.id == interrupt.id }) ?? newRecord(interrupt)
            record.status = expiring.contains(interrupt.id) ? .expired : .resolved
            record.resolvedAt = now
            record.resolvedBy = config.answeredBy?.id ?? config.actor
            stage(record)
            guard interrupt.namespace == nil else { continue }
            var list: [JSONValue] = []
            if let saved = headWrites.first(where: { $0.taskID == interrupt.taskID && $0.channel == Reserved.resume }) {
                list = try JSONValue(json: saved.value).arrayValue ?? []
            }
            list.append(value)
            upsertHeadWrites([PendingWrite(taskID: interrupt.taskID, node: interrupt.node, index: Reserved.resumeIndex, channel: Reserved.resume, value: JSONValue.array(list).jsonData)])
        }
        return true
    }

    /// An answer to a tool-call review (an interrupt whose value is a ``ReviewRequest``) is
    /// checked against its policy before anything is written, and kept in its canonical form
    /// (`{"decisions": [...]}`); other answers pass through unchanged.
    func checkedAnswer(_ value: JSONValue, to interrupt: Interrupt) throws -> JSONValue {
        guard let request = ReviewRequest(json: interrupt.value) else { return value }
        do {
            return try request.response(from: value).json
        } catch let error as GraphError {
            throw GraphError(
                .invalidResumeValue,
                "the answer to tool-call review '\(interrupt.id)' of thread '\(threadID ?? "")' was refused and nothing was applied: \(error.message)")
        }
    }

    /// `true` when the working head has tasks that have not finished.
    func hasTasksToRun() throws -> Bool {
        guard let head = current else { return false }
        let done = Set(headWrites.filter { $0.channel == Reserved.done }.map(\.taskID))
        return try graph.plan(head, sends: sends).contains { !done.contains($0.id) }
    }

    func newRecord(_ interrupt: Interrupt) -> InterruptRecord {
        InterruptRecord(
            id: interrupt.id, threadID: threadID ?? "", checkpointID: current?.id ?? CheckpointID(high: 0, low: 0),
            taskID: interrupt.taskID, node: interrupt.node, value: interrupt.value, status: .pending,
            deadline: interrupt.deadline, onTimeout: interrupt.onTimeout, createdAt: now, namespace: interrupt.namespace, approvers: interrupt.approvers)
    }

    /// A `Command`'s update and goto become writes of the null task on the head; the next
    /// superstep applies them before its tasks run.
    func addNullWrites(_ command: Command<State>) throws {
        var index = headWrites.filter { $0.taskID == Reserved.nullTask }.map(\.index).max().map { $0 + 1 } ?? 0
        var writes: [PendingWrite] = []
        func add(_ channel: String, _ data: Data) {
            writes.append(PendingWrite(taskID: Reserved.nullTask, node: Reserved.input, index: index, channel: channel, value: data))
            index += 1
        }
        for write in try graph.encodeStateWrites(command.update) { add(write.channel, write.value.jsonData) }
        for target in command.goto {
            switch target {
            case .node(let name):
                if name == END { continue }
                try requireNode(name, from: "Command(goto:)")
                add(Reserved.trigger(name), Data("null".utf8))
            case .send(let send):
                add(Reserved.sends, try JSONCoding.encode(try graph.packet(send, from: "Command(goto: Send)")))
            }
        }
        upsertHeadWrites(writes)
    }

    func requireNode(_ name: String, from source: String) throws {
        guard graph.nodes[name] != nil else {
            throw GraphError(.unknownNode, "\(source) names '\(name)', which is not a node of graph '\(graph.identity.name)'; nodes: \(graph.nodeNames.joined(separator: ", "))")
        }
    }

    /// The thread leaves its pending interrupts behind (new input, fork, edit): they are
    /// cancelled so no answer or timer applies to them later.
    func cancelPendingInterrupts() async throws {
        guard checkpointer != nil else { return }
        for var record in try await loadKnownInterrupts() where record.status == .pending {
            record.status = .cancelled
            record.resolvedAt = now
            record.resolvedBy = config.actor ?? "superseded"
            stage(record)
        }
    }
}
