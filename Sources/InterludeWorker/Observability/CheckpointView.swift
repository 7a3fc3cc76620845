import Foundation
import Interlude

/// A checkpoint of a thread as operators see it, whatever the graph's state type: what
/// `getState` and `stateHistory` return, with the values as JSON.
public struct CheckpointView: Sendable, Equatable {
    /// The thread.
    public var threadID: String
    /// The checkpoint.
    public var checkpointID: CheckpointID
    /// The checkpoint it came from.
    public var parentCheckpointID: CheckpointID?
    /// Its superstep number.
    public var step: Int
    /// What created it (`input`, `loop`, `update`, `fork`).
    public var source: CheckpointSource
    /// When it was created.
    public var createdAt: Date
    /// The state's fields, encoded as the graph's state type encodes them.
    public var values: JSONValue
    /// Nodes that run next.
    public var next: [String]
    /// Interrupts waiting for an answer at this checkpoint.
    public var interrupts: [Interrupt]
    /// Caller-supplied metadata.
    public var metadata: [String: JSONValue]

    /// The view of a snapshot.
    /// - Throws: When the state cannot be encoded as JSON.
    public init<State: GraphState>(_ snapshot: StateSnapshot<State>) throws {
        threadID = snapshot.threadID
        checkpointID = snapshot.checkpointID
        parentCheckpointID = snapshot.parentCheckpointID
        step = snapshot.step
        source = snapshot.source
        createdAt = snapshot.createdAt
        values = try JSONValue(encoding: snapshot.values)
        next = snapshot.next
        interrupts = snapshot.interrupts
        metadata = snapshot.metadata
    }

    /// The JSON form, with the field names of the message contracts (`thread_id`,
    /// `checkpoint_id`, `interrupt_id`, `deadline`, ...).
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "thread_id": .string(threadID), "checkpoint_id": .string(checkpointID.description),
            "step": .number(Double(step)), "source": .string(source.rawValue), "created_at": .string(Timestamp.format(createdAt)),
            "values": values, "next": .array(next.map { .string($0) }), "metadata": .object(metadata),
            "interrupts": .array(interrupts.map(Self.json)),
        ]
        object["parent_checkpoint_id"] = parentCheckpointID.map { .string($0.description) } ?? .null
        return .object(object)
    }

    /// An interrupt with the field names of the `interrupt` event.
    public static func json(_ interrupt: Interrupt) -> JSONValue {
        var object: [String: JSONValue] = [
            "interrupt_id": .string(interrupt.id), "node": .string(interrupt.node), "value": interrupt.value,
        ]
        object["deadline"] = interrupt.deadline.map { .string(Timestamp.format($0)) } ?? .null
        if let approvers = interrupt.approvers { object["approvers"] = approvers.json }
        return .object(object)
    }
}
