import Foundation
import Synchronization

/// A question a node asked a human: what the run reports when it pauses.
public struct Interrupt: Sendable, Equatable, Codable {
    /// Stable id: the same task asking its n-th question always gets the same id.
    public var id: String
    /// The question, as JSON.
    public var value: JSONValue
    /// The node that asked.
    public var node: String
    /// The task that asked.
    public var taskID: String
    /// When the wait expires, if it has a deadline.
    public var deadline: Date?
    /// What expiry does, if it has a deadline.
    public var onTimeout: TimeoutAction?
    /// For a question asked inside a subgraph: the subgraph's namespace (`node:<task id>`,
    /// or `node` for a subgraph that keeps one thread; nested ones joined by `|`).
    public var namespace: String?
    /// Who may answer; `nil`: anyone.
    public var approvers: Approvers?
    /// Votes recorded so far, for an interrupt whose approvers require a quorum.
    public var votes: [Vote] = []
    /// The escalation chain placed in time, with the steps taken; `nil` without one.
    public var escalation: EscalationPlan?

    /// Creates an interrupt.
    public init(
        id: String, value: JSONValue, node: String, taskID: String, deadline: Date? = nil, onTimeout: TimeoutAction? = nil,
        namespace: String? = nil, approvers: Approvers? = nil
    ) {
        self.namespace = namespace
        self.approvers = approvers
        self.id = id
        self.value = value
        self.node = node
        self.taskID = taskID
        self.deadline = deadline
        self.onTimeout = onTimeout
    }

    /// The question decoded as a typed value.
    public func value<T: Decodable>(as type: T.Type) throws -> T { try value.decode(T.self) }

    /// The JSON form: `id`, `value`, `node`, `task_id`, and with a deadline `deadline`
    /// (seconds since 1970) and `on_timeout`; `ns` inside a subgraph; `approvers` when named.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["id": .string(id), "value": value, "node": .string(node), "task_id": .string(taskID)]
        if let deadline { object["deadline"] = .number(deadline.timeIntervalSince1970) }
        if let onTimeout { object["on_timeout"] = onTimeout.json }
        if let namespace { object["ns"] = .string(namespace) }
        if let approvers { object["approvers"] = approvers.json }
        if !votes.isEmpty { object["votes"] = .array(votes.map(\.json)) }
        if let escalation { object["escalation"] = escalation.json }
        return .object(object)
    }

    /// Reads the JSON form; `nil` when a required member is missing.
    public init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, let node = json["node"]?.stringValue, let taskID = json["task_id"]?.stringValue else {
            return nil
        }
        self.init(
            id: id, value: json["value"] ?? .null, node: node, taskID: taskID,
            deadline: json["deadline"]?.numberValue.map { Date(timeIntervalSince1970: $0) },
            onTimeout: json["on_timeout"].flatMap(TimeoutAction.init(json:)), namespace: json["ns"]?.stringValue,
            approvers: json["approvers"].flatMap(Approvers.init(json:)))
        votes = json["votes"]?.arrayValue?.compactMap(Vote.init(json:)) ?? []
        escalation = json["escalation"].flatMap(EscalationPlan.init(json:))
    }

    public init(from decoder: Decoder) throws {
        let json = try JSONValue(from: decoder)
        guard let interrupt = Interrupt(json: json) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an interrupt: \(json.shortDescription)"))
        }
        self = interrupt
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }

    /// Interrupts as saved in a pending write.
    static func encodeList(_ interrupts: [Interrupt]) -> Data { JSONValue.array(interrupts.map(\.json)).jsonData }

    /// Reads interrupts saved in a pending write.
    static func decodeList(_ data: Data) throws -> [Interrupt] {
        guard let list = try JSONValue(json: data).arrayValue else {
            throw GraphError(.decodingFailed, "saved interrupts are not a JSON array")
        }
        return try list.map { json in
            guard let interrupt = Interrupt(json: json) else { throw GraphError(.decodingFailed, "a saved interrupt lacks id, node or task_id") }
            return interrupt
        }
    }
}

/// The signal `interrupt` throws to pause a node. It is control flow, not a failure: the
/// runtime catches it. Code that catches errors inside a node should rethrow it; a node that
/// swallows it is still treated as interrupted.
public struct GraphInterrupt: Error, Sendable {
    /// The interrupt raised.
    public let interrupt: Interrupt
}

/// What a running node knows about itself: its name, task, thread and step, and the answers
/// it has been given so far. Passed to nodes that take a context, and available to any code
/// the node calls (child tasks included) through ``NodeContext/current``.
public final class NodeContext: Sendable {
    /// The node's name.
    public let node: String
    /// The task id (deterministic for a checkpoint and step).
    public let taskID: String
    /// The thread, when the run has one.
    public let threadID: String?
    /// The superstep the task runs in.
    public let step: Int
    let resumeValues: [JSONValue]
    let nullResume: NullResume?
    /// Answers by interrupt id for questions a subgraph run by this task asked.
    let subgraphAnswers: [String: JSONValue]
    /// The parent graph's checkpointer, for subgraphs.
    let checkpointer: (any Checkpointer)?
    let clock: any GraphClock
    private let state = Mutex<(next: Int, raised: [Interrupt])>((0, []))

    /// The context of the node running on this task, or `nil` outside a node.
    @TaskLocal public static var current: NodeContext?

    init(
        node: String, taskID: String, threadID: String?, step: Int, resumeValues: [JSONValue], nullResume: NullResume? = nil,
        subgraphAnswers: [String: JSONValue] = [:], checkpointer: (any Checkpointer)? = nil, clock: any GraphClock
    ) {
        self.subgraphAnswers = subgraphAnswers
        self.checkpointer = checkpointer
        self.node = node
        self.taskID = taskID
        self.threadID = threadID
        self.step = step
        self.resumeValues = resumeValues
        self.nullResume = nullResume
        self.clock = clock
    }

    /// The interrupts this task raised (at most one, unless user code swallowed a signal).
    var raised: [Interrupt] { state.withLock { $0.raised } }

    /// Pauses this task with questions a subgraph it runs asked: same ids, the subgraph's
    /// namespace; returns the signal to throw.
    func surface(_ interrupts: [Interrupt], namespace: String) -> GraphInterrupt {
        let surfaced = interrupts.map { child in
            var interrupt = Interrupt(
                id: child.id, value: child.value, node: node, taskID: taskID, deadline: child.deadline, onTimeout: child.onTimeout,
                namespace: child.namespace.map { "\(namespace)|\($0)" } ?? namespace, approvers: child.approvers)
            interrupt.votes = child.votes
            interrupt.escalation = child.escalation
            return interrupt
        }
        state.withLock { $0.raised += surfaced }
        return GraphInterrupt(interrupt: surfaced[0])
    }

    /// Pauses the run with `question`, or returns the answer when the run was resumed.
    ///
    /// The node re-runs from its start on resume, and its n-th `interrupt` call returns the
    /// n-th answer; code before `interrupt` therefore runs again and must be idempotent.
    /// - Parameters:
    ///   - question: Any encodable value; review apps receive it as JSON.
    ///   - timeout: How long the human has. Default: no deadline.
    ///   - onTimeout: What expiry does: `.answer(x)` continues with `x`, `.fail` ends the run.
    ///   - approvers: Who may answer (users, roles). Default: anyone.
    ///   - escalation: Remind, then hand to another group, before the timeout. Default: none.
    /// - Throws: ``GraphInterrupt`` to pause (let it propagate); `GraphError` `.invalidResumeValue`
    ///   when the answer does not decode as `Answer`.
    public func interrupt<Answer: Decodable>(
        _ question: some Encodable, as answerType: Answer.Type = Answer.self,
        timeout: Duration? = nil, onTimeout: TimeoutAction? = nil, approvers: Approvers? = nil, escalation: Escalation? = nil
    ) throws -> Answer {
        let index = state.withLock { s -> Int in
            defer { s.next += 1 }
            return s.next
        }
        if index < resumeValues.count {
            return try resumeValues[index].decode(Answer.self)
        }
        if index == resumeValues.count, let value = nullResume?.take(for: taskID) {
            return try value.decode(Answer.self)
        }
        let asked = clock.now
        let deadline = timeout.map { asked.addingTimeInterval($0.seconds) }
        var raised = Interrupt(
            id: StableHash.id(taskID, "interrupt", String(index)), value: try JSONValue(encoding: question),
            node: node, taskID: taskID, deadline: deadline, onTimeout: timeout == nil ? nil : (onTimeout ?? .fail), approvers: approvers)
        if let escalation {
            let plan = EscalationPlan(escalation, from: asked, finalDeadline: deadline)
            raised.escalation = plan
            raised.deadline = plan.nextDeadline
        }
        state.withLock { $0.raised.append(raised) }
        throw GraphInterrupt(interrupt: raised)
    }
}

/// Pauses the running node with `question`, or returns the human's answer on resume.
///
/// Works anywhere inside a node, including child tasks the node starts. The node re-runs from
/// its first line on resume, so side effects before this call must be idempotent. Several
/// calls in one node are answered in order.
/// - Parameters:
///   - question: Any encodable value; review apps receive it as JSON.
///   - timeout: How long the human has. Default: no deadline.
///   - onTimeout: What expiry does. Default with a timeout: `.fail`.
///   - approvers: Who may answer: listed users or holders of listed roles. An answer from
///     anyone else (or with no actor) is refused `.notAllowed` and nothing is applied.
///     Default: anyone.
///   - escalation: A reminder and a hand-over to another approver group before `timeout`,
///     driven by the deadline sweep (see ``Escalation``). Default: none.
/// - Throws: ``GraphInterrupt`` to pause (let it propagate); `GraphError` `.interruptOutsideNode`
///   outside a node; `.invalidResumeValue` when the answer does not decode as `Answer`.
public func interrupt<Answer: Decodable>(
    _ question: some Encodable, as answerType: Answer.Type = Answer.self,
    timeout: Duration? = nil, onTimeout: TimeoutAction? = nil, approvers: Approvers? = nil, escalation: Escalation? = nil
) async throws -> Answer {
    guard let context = NodeContext.current else {
        throw GraphError(
            .interruptOutsideNode,
            "interrupt(_:) was called outside a running node; call it from a node's body (or a task it starts)")
    }
    return try context.interrupt(question, as: answerType, timeout: timeout, onTimeout: onTimeout, approvers: approvers, escalation: escalation)
}

/// A resume value given when no interrupt was pending (LangGraph's resume on the null task):
/// the first task of the step whose `interrupt` has no answer of its own takes it.
final class NullResume: Sendable {
    private let state: Mutex<(value: JSONValue, takenBy: String?)>
    /// For a subgraph's run: the parent's value and the parent's task that runs the subgraph.
    private let parent: (resume: NullResume, taskID: String)?

    init(_ value: JSONValue) {
        state = Mutex((value, nil))
        parent = nil
    }

    /// The parent's value, offered to a subgraph run by `taskID`: the subgraph's first question
    /// takes it only if no sibling of `taskID` took it first.
    init(inheriting parent: NullResume, by taskID: String) {
        state = Mutex((parent.value, nil))
        self.parent = (parent, taskID)
    }

    private var value: JSONValue { state.withLock { $0.value } }

    /// The value, for the first task that asks (and again for that task on a retry).
    func take(for taskID: String) -> JSONValue? {
        state.withLock { s in
            if s.takenBy == nil {
                if let parent, parent.resume.take(for: parent.taskID) == nil { return nil }
                s.takenBy = taskID
            }
            return s.takenBy == taskID ? s.value : nil
        }
    }

    /// Which task took the value, if one did.
    var taken: (taskID: String, value: JSONValue)? {
        state.withLock { s in s.takenBy.map { ($0, s.value) } }
    }
}
