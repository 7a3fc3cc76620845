import Crypto
import Foundation
import Interlude
import Synchronization

/// Builds the JSON of the events workers publish (through the outbox) and of dead letters.
public enum EventMessages {
    static func envelope(type: String, id: String, threadID: String, at date: Date) -> [String: JSONValue] {
        [
            "type": .string(type), "schema_version": .number(Double(messageSchemaVersion)), "id": .string(id),
            "thread_id": .string(threadID), "created_at": .string(Timestamp.format(date)),
        ]
    }

    /// One `interrupt` event on the reviews topic: what a review app shows a human.
    public static func review(_ record: InterruptRecord, graph: GraphIdentity, at date: Date) -> JSONValue {
        var object = envelope(type: "interrupt", id: "review-\(record.id)", threadID: record.threadID, at: date)
        object["graph"] = .string(graph.name)
        object["graph_version"] = .number(Double(graph.version))
        object["checkpoint_id"] = .string(record.checkpointID.description)
        object["interrupt_id"] = .string(record.id)
        object["node"] = .string(record.node)
        object["value"] = record.value
        if let deadline = record.deadline { object["deadline"] = .string(Timestamp.format(deadline)) }
        if let namespace = record.namespace { object["namespace"] = .string(namespace) }
        if let approvers = record.approvers { object["approvers"] = approvers.json }
        if let step = record.escalationStep {
            // Published again by an escalation step: an id of its own, so it is not dropped as a copy.
            object["id"] = .string("review-\(record.id)-\(step)")
            object["escalation"] = .string(step)
        }
        return .object(object)
    }

    /// A `step` event: the thread committed a checkpoint.
    ///
    /// Its id names the checkpoint and what caused the commit: a command that commits no new
    /// checkpoint (a cancel of a paused thread) still gets an event id of its own, and a
    /// redelivery of the same command gets the same id. A commit of the deadline sweep (no
    /// command) is named by its ``SweepEventKeys`` key instead, since an escalation step, a
    /// default answer or a timeout may commit on a checkpoint that earlier sweep commits
    /// already named. A resume's step events name who answered (`actor`), and every step that
    /// closes questions lists them (`resolved_interrupts`: id, how it closed, by whom), so a
    /// review app can stop showing a question someone else answered.
    /// - Parameters:
    ///   - commandID: The command that caused the commit, if any.
    ///   - sweepKey: For a commit of the deadline sweep, its key (``SweepEventKeys/next(_:)``).
    ///   - resolved: The interrupt records the commit closed (resolved, expired, cancelled).
    public static func step(
        threadID: String, checkpointID: CheckpointID, step: Int, status: ThreadStatus, commandID: String?, sweepKey: String? = nil,
        actor: ReviewActor? = nil, resolved: [InterruptRecord] = [], at date: Date
    ) -> JSONValue {
        let id = (commandID ?? sweepKey).map { "step-\(checkpointID)-\($0)" } ?? "step-\(checkpointID)"
        var object = envelope(type: "step", id: id, threadID: threadID, at: date)
        object["checkpoint_id"] = .string(checkpointID.description)
        object["step"] = .number(Double(step))
        object["status"] = .string(status.rawValue)
        if let commandID { object["command_id"] = .string(commandID) }
        if let actor { object["actor"] = actor.json }
        let closed = resolved.filter { $0.status != .pending }
        if !closed.isEmpty {
            object["resolved_interrupts"] = .array(closed.map { record in
                var item: [String: JSONValue] = ["interrupt_id": .string(record.id), "status": .string(record.status.rawValue)]
                if let by = record.resolvedBy { item["resolved_by"] = .string(by) }
                return .object(item)
            })
        }
        return .object(object)
    }

    /// A `completed` event with the final state.
    public static func completed(threadID: String, checkpointID: CheckpointID, values: JSONValue, at date: Date) -> JSONValue {
        var object = envelope(type: "completed", id: "completed-\(checkpointID)", threadID: threadID, at: date)
        object["checkpoint_id"] = .string(checkpointID.description)
        object["values"] = values
        return .object(object)
    }

    /// A `failed` event. Its id names the command, else the checkpoint and the sweep commit
    /// (`sweepKey`, see ``step(threadID:checkpointID:step:status:commandID:sweepKey:actor:resolved:at:)``).
    public static func failed(threadID: String, checkpointID: CheckpointID?, reason: String, commandID: String?, sweepKey: String? = nil, at date: Date) -> JSONValue {
        let cause = checkpointID.map { checkpoint in sweepKey.map { "\(checkpoint)-\($0)" } ?? checkpoint.description }
        var object = envelope(type: "failed", id: "failed-\(commandID ?? cause ?? UUID().uuidString)", threadID: threadID, at: date)
        if let checkpointID { object["checkpoint_id"] = .string(checkpointID.description) }
        object["reason"] = .string(reason)
        if let commandID { object["command_id"] = .string(commandID) }
        return .object(object)
    }

    /// A `rejected` event: a command was refused, with a reason code.
    public static func rejected(threadID: String, commandID: String, code: String, message: String, at date: Date) -> JSONValue {
        var object = envelope(type: "rejected", id: "rejected-\(commandID)", threadID: threadID, at: date)
        object["command_id"] = .string(commandID)
        object["reason"] = .string(code)
        object["message"] = .string(message)
        return .object(object)
    }

    /// A dead letter: the original bytes (base64), where they came from, and why.
    public static func deadLetter(
        original: [UInt8], topic: String, partition: Int32, offset: Int64, key: String?, reason: DeadLetterReason, at date: Date
    ) -> JSONValue {
        var object: [String: JSONValue] = [
            "type": "dead_letter", "schema_version": .number(Double(messageSchemaVersion)),
            "id": .string("dlq-\(topic)-\(partition)-\(offset)"), "created_at": .string(Timestamp.format(date)),
            "original": .string(Data(original).base64EncodedString()), "topic": .string(topic),
            "partition": .number(Double(partition)), "offset": .number(Double(offset)),
            "reason": .string(reason.code), "detail": .string(reason.detail),
        ]
        if let key { object["key"] = .string(key) }
        return .object(object)
    }
}

/// Names the commits of one deadline-sweep action (an escalation step, a default answer, a
/// timeout, parking a thread whose deadline cannot be applied) for their event ids.
///
/// Sweep commits have no command id, and an escalation step or a timeout commits no new
/// checkpoint: named by the checkpoint alone, a reminder, the escalation after it and the
/// timeout after that would share one event id, and the outbox (one row per id) would keep
/// only the first. A key is instead `<stage>-<digest>`: the stage (`remind`, `escalate`, or the
/// action: `deadline`, `parked`) and 16 hex digits of a SHA-256 over the action, the commit's
/// place in the action, and every interrupt change the commit makes (id, status, escalation
/// step, deadline). Each sweep action changes an interrupt in a way no other action on that
/// checkpoint does (an escalation step is taken once; expiry and cancelling are final), so
/// keys differ; and they depend on nothing but the thread's state, so the same action
/// computed again (a re-fired sweep after a crash) names its events the same way.
final class SweepEventKeys: Sendable {
    private let action: String
    private let commits = Mutex(0)

    /// - Parameter action: What the sweep does: `deadline` (escalation steps, defaults,
    ///   timeouts) or `parked`.
    init(action: String) {
        self.action = action
    }

    /// The key of the next commit of this action.
    func next(_ context: CommitContext) -> String {
        let ordinal = commits.withLock { count in
            defer { count += 1 }
            return count
        }
        let steps = context.newInterrupts.compactMap(\.escalationStep)
        let stage = steps.contains(EscalationPlan.Step.escalate.rawValue) ? EscalationPlan.Step.escalate.rawValue : steps.first ?? action
        let changes = context.interruptChanges.map { record in
            [record.id, record.status.rawValue, record.escalationStep ?? "", record.deadline.map { Timestamp.format($0) } ?? ""].joined(separator: "\u{1F}")
        }.sorted()
        let text = ([action, String(ordinal)] + changes).joined(separator: "\u{1E}")
        let digest = SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return "\(stage)-\(digest)"
    }
}
