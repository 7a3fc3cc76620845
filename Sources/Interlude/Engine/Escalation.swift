import Foundation

/// A declarative chain on a human wait: remind after a while, then hand the question to
/// another approver group, then (with the interrupt's `timeout`) take the default or fail.
///
/// ```swift
/// let ok: Bool = try await interrupt(
///     question, timeout: .seconds(3 * 3600), onTimeout: .answer(false), approvers: Approvers(users: ["alice"]),
///     escalation: Escalation(remindAfter: .seconds(3600), escalateAfter: .seconds(2 * 3600), escalateTo: Approvers(roles: ["managers"])))
/// ```
///
/// The deadline sweep drives it (`expire(thread:now:)`): at `remindAfter` the interrupt event
/// is published again with `escalation: "remind"`; at `escalateAfter` the approvers become
/// `escalateTo` and the event is published again with `escalation: "escalate"`; at the
/// interrupt's `timeout` its `onTimeout` applies as for any deadline. Times count from when
/// the question was first asked.
public struct Escalation: Sendable, Equatable {
    /// When to remind (publish the interrupt event again). Default: never.
    public var remindAfter: Duration?
    /// When to hand the question to ``escalateTo``. Default: never.
    public var escalateAfter: Duration?
    /// Who may answer after escalation (replaces the interrupt's approvers). Default: none
    /// (the approvers stay; the event is still published again).
    public var escalateTo: Approvers?

    /// Creates a chain.
    public init(remindAfter: Duration? = nil, escalateAfter: Duration? = nil, escalateTo: Approvers? = nil) {
        self.remindAfter = remindAfter
        self.escalateAfter = escalateAfter
        self.escalateTo = escalateTo
    }
}

/// An ``Escalation`` placed in time, as saved on an interrupt.
public struct EscalationPlan: Sendable, Equatable {
    /// One step of the chain.
    public enum Step: String, Sendable {
        /// Publish the interrupt event again.
        case remind
        /// Hand the question to another approver group.
        case escalate
    }

    /// When to remind, if the chain reminds.
    public var remindAt: Date?
    /// When to escalate, if the chain escalates.
    public var escalateAt: Date?
    /// Who may answer after escalation.
    public var escalateTo: Approvers?
    /// The interrupt's own deadline (its `timeout`), if any.
    public var finalDeadline: Date?
    /// Steps already taken.
    public var done: [Step] = []

    init(_ escalation: Escalation, from start: Date, finalDeadline: Date?) {
        remindAt = escalation.remindAfter.map { start.addingTimeInterval($0.seconds) }
        escalateAt = escalation.escalateAfter.map { start.addingTimeInterval($0.seconds) }
        escalateTo = escalation.escalateTo
        self.finalDeadline = finalDeadline
    }

    /// The steps not taken yet, in time order.
    var pending: [(Step, Date)] {
        [(Step.remind, remindAt), (.escalate, escalateAt)].compactMap { step, at in at.map { (step, $0) } }
            .filter { !done.contains($0.0) }.sorted { $0.1 < $1.1 }
    }

    /// When the sweep must look at the interrupt next: the next step, or the final deadline.
    var nextDeadline: Date? { pending.first?.1 ?? finalDeadline }

    /// The step due at `date`, unless the final deadline is due too (then the deadline wins).
    /// When both steps are due, the later one is taken (a reminder would be out of date).
    func dueStep(at date: Date) -> Step? {
        if let finalDeadline, finalDeadline <= date { return nil }
        return pending.last { $0.1 <= date }?.0
    }

    /// The JSON form (times in seconds since 1970).
    var json: JSONValue {
        var object: [String: JSONValue] = ["done": .array(done.map { .string($0.rawValue) })]
        if let remindAt { object["remind_at"] = .number(remindAt.timeIntervalSince1970) }
        if let escalateAt { object["escalate_at"] = .number(escalateAt.timeIntervalSince1970) }
        if let escalateTo { object["escalate_to"] = escalateTo.json }
        if let finalDeadline { object["deadline"] = .number(finalDeadline.timeIntervalSince1970) }
        return .object(object)
    }

    init?(json: JSONValue) {
        guard json.objectValue != nil else { return nil }
        func date(_ key: String) -> Date? { json[key]?.numberValue.map { Date(timeIntervalSince1970: $0) } }
        remindAt = date("remind_at")
        escalateAt = date("escalate_at")
        escalateTo = json["escalate_to"].flatMap(Approvers.init(json:))
        finalDeadline = date("deadline")
        done = json["done"]?.arrayValue?.compactMap { $0.stringValue.flatMap(Step.init(rawValue:)) } ?? []
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    var seconds: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension Run {
    /// Takes the escalation steps due at `date` on the thread's pending interrupts: the saved
    /// interrupt moves to its next deadline (with the new approvers after `escalate`) and its
    /// record is staged again, so the commit publishes the interrupt event again.
    /// - Returns: How the thread stands, or `nil` when no step was due (the caller applies
    ///   the deadlines as usual).
    func escalate(_ due: [InterruptRecord], at date: Date) async throws -> RunResult<State>? {
        guard let checkpointer, let threadID,
            let snapshot = try await checkpointer.load(thread: threadID, checkpointID: nil), let base = snapshot.tuple
        else { return nil }
        threadVersion = snapshot.record.version
        latestID = snapshot.record.head
        knownInterrupts = snapshot.interrupts
        try load(base)
        var stepped = false
        for record in due {
            guard let open = try openInterrupts().first(where: { $0.id == record.id }) else { continue }
            var saved = try savedInterrupt(open)
            guard var plan = saved.escalation, let step = plan.dueStep(at: date) else { continue }
            // A later step covers the earlier ones.
            let order = plan.pending.map(\.0)
            plan.done += order.prefix(through: order.firstIndex(of: step) ?? order.count - 1)
            if step == .escalate, let group = plan.escalateTo { saved.approvers = group }
            saved.escalation = plan
            saved.deadline = plan.nextDeadline
            try replaceSavedInterrupt(saved)
            var updated = record
            updated.deadline = saved.deadline
            updated.approvers = saved.approvers
            updated.escalationStep = step.rawValue
            stage(updated)
            stepped = true
        }
        guard stepped else { return nil }
        phase = .running
        _ = try await stop(.interrupted, interrupts: try openInterrupts())
        return result
    }
}
