import Foundation

/// Decoding of the types whose Codable form is their JSON form (`init?(json:)`).
enum JSONForm {
    /// Reads a JSON value and converts it, or throws naming `what` was expected.
    static func decode<T>(_ decoder: Decoder, _ what: String, _ make: (JSONValue) -> T?) throws -> T {
        let json = try JSONValue(from: decoder)
        guard let value = make(json) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not \(what): \(json.shortDescription)"))
        }
        return value
    }
}

/// Who answered an interrupt: a user id and the roles the user holds.
///
/// A resume carries it (`RunConfig.answeredBy` in process, `actor` in a Kafka resume); it is
/// recorded as the resolved interrupt's `resolvedBy`, in the metadata of the checkpoints the
/// resume creates (`actor`), and checked against the interrupt's ``Approvers``. Without
/// signed answers the actor is what the sender says; a worker that requires signatures only
/// accepts an actor covered by a valid signature.
public struct ReviewActor: Sendable, Equatable, Hashable, Codable {
    /// The user id (`alice`). Never empty.
    public var id: String
    /// The roles the user holds (`finance`). Default: none.
    public var roles: [String]

    /// Creates an actor.
    public init(_ id: String, roles: [String] = []) {
        self.id = id
        self.roles = roles
    }

    /// The JSON form: `{"id": "alice", "roles": ["finance"]}`.
    public var json: JSONValue {
        .object(["id": .string(id), "roles": .array(roles.map { .string($0) })])
    }

    /// Reads the JSON form; `nil` when `id` is missing or empty, or a role is not a string.
    public init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, !id.isEmpty else { return nil }
        var roles: [String] = []
        if let list = json["roles"], !list.isNull {
            guard let items = list.arrayValue else { return nil }
            for item in items {
                guard let role = item.stringValue else { return nil }
                roles.append(role)
            }
        }
        self.init(id, roles: roles)
    }

    public init(from decoder: Decoder) throws {
        self = try JSONForm.decode(decoder, "an actor (needs a non-empty 'id' and string 'roles')", ReviewActor.init(json:))
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }
}

/// Who may answer an interrupt: named users, holders of named roles, or both; and how many
/// of them must approve (a quorum).
///
/// Given to `interrupt(_:approvers:)`; published in the interrupt event (`approvers`) so a
/// review app knows whom to ask. An answer from anyone else, or with no actor at all, is
/// refused with `GraphError` `.notAllowed` before the graph wakes, and nothing is applied.
///
/// With ``required`` above 1 every answer is a vote: it is recorded on the interrupt
/// (``Interrupt/votes``, shown by `getState` and `stateHistory`) and the graph wakes only at
/// the `required`-th approval by distinct actors, with that vote's value; a second vote by the
/// same actor is refused `.alreadyVoted`. A vote is a rejection when its value is `false`, or
/// an object whose `approved` is `false` or whose `decision` is `"reject"`; with
/// ``rejectionDecides`` the first rejection wakes the graph with its value, otherwise
/// rejections are recorded and do not count toward the quorum.
public struct Approvers: Sendable, Equatable, Codable {
    /// User ids allowed to answer. Default: none.
    public var users: [String]
    /// Roles whose holders may answer. Default: none.
    public var roles: [String]
    /// Approvals by distinct actors needed to wake the graph. Default: 1 (the first answer).
    public var required: Int
    /// The first rejection wakes the graph (with the rejecting value). Default: false.
    public var rejectionDecides: Bool

    /// Creates an approver list. With both lists empty nobody may answer.
    public init(users: [String] = [], roles: [String] = [], required: Int = 1, rejectionDecides: Bool = false) {
        self.users = users
        self.roles = roles
        self.required = max(1, required)
        self.rejectionDecides = rejectionDecides
    }

    /// `true` when `actor` is a listed user or holds a listed role.
    public func allows(_ actor: ReviewActor?) -> Bool {
        guard let actor else { return false }
        return users.contains(actor.id) || actor.roles.contains(where: roles.contains)
    }

    /// `true` when a vote's value says no: `false`, `{"approved": false, ...}` or
    /// `{"decision": "reject", ...}`.
    public static func isRejection(_ value: JSONValue) -> Bool {
        value == .bool(false) || value["approved"] == .bool(false) || value["decision"]?.stringValue == "reject"
    }

    /// A readable list for messages: `users alice, bob; roles finance`.
    public var summary: String {
        var parts: [String] = []
        if !users.isEmpty { parts.append("users \(users.joined(separator: ", "))") }
        if !roles.isEmpty { parts.append("roles \(roles.joined(separator: ", "))") }
        return parts.isEmpty ? "nobody" : parts.joined(separator: "; ")
    }

    /// The JSON form: `{"users": [...], "roles": [...]}`, with `required` and
    /// `rejection_decides` when they are not the defaults.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["users": .array(users.map { .string($0) }), "roles": .array(roles.map { .string($0) })]
        if required != 1 { object["required"] = .number(Double(required)) }
        if rejectionDecides { object["rejection_decides"] = true }
        return .object(object)
    }

    /// Reads the JSON form; `nil` when a member is not a list of strings.
    public init?(json: JSONValue) {
        func strings(_ key: String) -> [String]? {
            guard let value = json[key], !value.isNull else { return [] }
            return value.arrayValue?.compactMap(\.stringValue)
        }
        guard json.objectValue != nil, let users = strings("users"), let roles = strings("roles") else { return nil }
        self.init(
            users: users, roles: roles, required: json["required"]?.numberValue.map { Int($0) } ?? 1,
            rejectionDecides: json["rejection_decides"]?.boolValue ?? false)
    }

    public init(from decoder: Decoder) throws {
        self = try JSONForm.decode(decoder, "an approver list", Approvers.init(json:))
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }
}

/// One approver's answer to an interrupt that needs a quorum.
public struct Vote: Sendable, Equatable, Codable {
    /// Who voted.
    public var actor: ReviewActor
    /// The answer given.
    public var value: JSONValue
    /// When the vote was recorded.
    public var at: Date

    /// Creates a vote.
    public init(actor: ReviewActor, value: JSONValue, at: Date) {
        self.actor = actor
        self.value = value
        self.at = at
    }

    /// `true` when the value is a rejection (see ``Approvers/isRejection(_:)``).
    public var isRejection: Bool { Approvers.isRejection(value) }

    /// The JSON form: `{"actor", "value", "at"}` (`at` in seconds since 1970).
    public var json: JSONValue {
        .object(["actor": actor.json, "value": value, "at": .number(at.timeIntervalSince1970)])
    }

    /// Reads the JSON form; `nil` when the actor or time is missing.
    public init?(json: JSONValue) {
        guard let actor = json["actor"].flatMap(ReviewActor.init(json:)), let at = json["at"]?.numberValue else { return nil }
        self.init(actor: actor, value: json["value"] ?? .null, at: Date(timeIntervalSince1970: at))
    }

    public init(from decoder: Decoder) throws {
        self = try JSONForm.decode(decoder, "a vote", Vote.init(json:))
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }
}

extension Run {
    /// `true` for a subgraph resumed by its parent's node: the parent checked the answers
    /// against the same approvers (its surfaced interrupts carry them) and counted the votes.
    var isSubgraphOfRunningNode: Bool {
        guard let parent = NodeContext.current?.threadID, let threadID else { return false }
        return threadID.hasPrefix(parent + "::")
    }

    /// Refuses answers the resume's actor may not give: an interrupt that names approvers
    /// accepts only a listed user or a holder of a listed role.
    func checkApprovers(_ answers: [(Interrupt, JSONValue)]) throws {
        let thread = threadID ?? ""
        if isSubgraphOfRunningNode { return }
        // A deadline's default answer (`expiring`) is no human's: approvers do not apply.
        for (interrupt, _) in answers where !expiring.contains(interrupt.id) {
            guard let approvers = interrupt.approvers, !approvers.allows(config.answeredBy) else { continue }
            let who = config.answeredBy.map { "'\($0.id)'\($0.roles.isEmpty ? "" : " (roles \($0.roles.joined(separator: ", ")))")" }
            throw GraphError(
                .notAllowed,
                "\(who.map { "actor \($0) may not answer" } ?? "an answer with no actor may not answer") interrupt '\(interrupt.id)' of thread '\(thread)'; it may be answered by \(approvers.summary); resume with an actor among them")
        }
    }
}

extension Run {
    /// Records the votes of answers to interrupts that need a quorum, and returns the answers
    /// that wake the graph: the others stay pending with one more vote on their saved interrupt.
    /// - Throws: `GraphError` `.alreadyVoted` when the actor voted on that interrupt before,
    ///   `.notAllowed` for a vote without an actor.
    func countVotes(_ answers: [(Interrupt, JSONValue)]) throws -> [(Interrupt, JSONValue)] {
        let thread = threadID ?? ""
        if isSubgraphOfRunningNode { return answers }
        var waking: [(Interrupt, JSONValue)] = []
        for (interrupt, value) in answers {
            guard let approvers = interrupt.approvers, approvers.required > 1, !expiring.contains(interrupt.id) else {
                waking.append((interrupt, value))
                continue
            }
            guard let actor = config.answeredBy else {
                throw GraphError(.notAllowed, "interrupt '\(interrupt.id)' of thread '\(thread)' needs \(approvers.required) approvals by distinct actors; resume with an actor")
            }
            var saved = try savedInterrupt(interrupt)
            if saved.votes.contains(where: { $0.actor.id == actor.id }) {
                throw GraphError(
                    .alreadyVoted,
                    "actor '\(actor.id)' already voted on interrupt '\(interrupt.id)' of thread '\(thread)' (\(saved.votes.count) of \(approvers.required) votes so far); a vote counts once")
            }
            let vote = Vote(actor: actor, value: value, at: now)
            saved.votes.append(vote)
            let approvals = saved.votes.filter { !$0.isRejection }.count
            if (vote.isRejection && approvers.rejectionDecides) || (!vote.isRejection && approvals >= approvers.required) {
                waking.append((saved, value))
            }
            try replaceSavedInterrupt(saved)
        }
        return waking
    }

    /// A resume whose answers were only votes: the votes are committed, the thread stays
    /// paused on the same interrupts, and the graph does not wake.
    func stopAfterVotes(_ command: Command<State>) async throws -> [GraphEvent<State>] {
        guard command.update.isEmpty, command.goto.isEmpty else {
            throw GraphError(.invalidUpdate, "a vote that does not complete the quorum cannot carry an update or a goto (thread '\(threadID ?? "")'); send them with the deciding answer or separately")
        }
        return try await stop(.interrupted, interrupts: try openInterrupts())
    }

    /// The interrupt as saved in its task's interrupt write on the working head (with its votes).
    func savedInterrupt(_ interrupt: Interrupt) throws -> Interrupt {
        guard let write = headWrites.first(where: { $0.taskID == interrupt.taskID && $0.channel == Reserved.interrupt }) else { return interrupt }
        return try Interrupt.decodeList(write.value).first { $0.id == interrupt.id } ?? interrupt
    }

    /// Replaces one interrupt in its task's interrupt write (staged for the next commit).
    func replaceSavedInterrupt(_ interrupt: Interrupt) throws {
        guard let write = headWrites.first(where: { $0.taskID == interrupt.taskID && $0.channel == Reserved.interrupt }) else { return }
        let list = try Interrupt.decodeList(write.value).map { $0.id == interrupt.id ? interrupt : $0 }
        upsertHeadWrites([PendingWrite(taskID: write.taskID, node: write.node, index: write.index, channel: write.channel, value: Interrupt.encodeList(list))])
    }

    /// The interrupts of a task's previous interrupt write by id, so a task that asks again
    /// keeps their votes and escalation (with the approvers an escalation set).
    func priorInterrupts(of taskID: String) -> [String: Interrupt] {
        guard let write = headWrites.first(where: { $0.taskID == taskID && $0.channel == Reserved.interrupt }),
            let list = try? Interrupt.decodeList(write.value)
        else { return [:] }
        return Dictionary(list.map { ($0.id, $0) }) { a, _ in a }
    }
}
