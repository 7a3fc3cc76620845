import Foundation

/// The name of the graph's entry point in edges: `addEdge(START, "first")`.
public let START = "__start__"
/// The name of the graph's exit in edges and `goto`: `addEdge("last", END)`.
public let END = "__end__"

/// A partial state update: writes to some fields, folded in by each field's reducer.
public struct Update<State: GraphState>: Sendable {
    struct Write: @unchecked Sendable {
        // @unchecked: the key path is immutable; the value is Sendable (checked at creation).
        let keyPath: AnyKeyPath
        let value: any Sendable
    }

    var writes: [Write]

    /// No writes.
    public init() { writes = [] }

    /// Writes `value` to the field at `keyPath` (for a list field with `.append`, the list
    /// is appended).
    public static func set<V: Codable & Sendable>(_ keyPath: WritableKeyPath<State, V>, _ value: V) -> Update {
        Update().set(keyPath, value)
    }

    /// Appends elements to an append or message-list field.
    public static func append<E: Codable & Sendable>(_ keyPath: WritableKeyPath<State, [E]>, _ elements: E...) -> Update {
        Update().set(keyPath, elements)
    }

    /// This update plus a write of `value` to the field at `keyPath`.
    public func set<V: Codable & Sendable>(_ keyPath: WritableKeyPath<State, V>, _ value: V) -> Update {
        var copy = self
        copy.writes.append(Write(keyPath: keyPath, value: value))
        return copy
    }

    /// This update plus elements appended to an append or message-list field.
    public func append<E: Codable & Sendable>(_ keyPath: WritableKeyPath<State, [E]>, _ elements: E...) -> Update {
        set(keyPath, elements)
    }

    /// Replaces the field's value, bypassing its reducer (LangGraph's `Overwrite`): an
    /// append list is set to `value` instead of growing. One overwrite per field per
    /// superstep; a second fails with `GraphError` `.invalidUpdate` naming the field.
    public static func overwrite<V: Codable & Sendable>(_ keyPath: WritableKeyPath<State, V>, _ value: V) -> Update {
        Update().overwrite(keyPath, value)
    }

    /// This update plus an overwrite of the field at `keyPath` (see ``overwrite(_:_:)-swift.type.method``).
    public func overwrite<V: Codable & Sendable>(_ keyPath: WritableKeyPath<State, V>, _ value: V) -> Update {
        var copy = self
        copy.writes.append(Write(keyPath: keyPath, value: OverwriteWrite(value: value)))
        return copy
    }

    /// `true` when it writes nothing.
    public var isEmpty: Bool { writes.isEmpty }
}

/// A task that runs `node` with its own input, in the next superstep (map-reduce fan-out).
///
/// The input is a whole state (`Send("worker", state)`) for a node added with `addNode`, or a
/// payload of the node's own type (`Send("grade", payload: essay)`) for a node added with
/// `addNode(_:payload:...)`.
public struct Send<State: GraphState>: Sendable {
    /// The node to run.
    public var node: String
    /// What that node receives instead of the graph's state.
    public let payload: any Encodable & Sendable
    /// The payload's type: the state type, or the payload type of the target node.
    let payloadType: PayloadType

    /// A send whose node receives `arg` as its state.
    public init(_ node: String, _ arg: State) {
        self.node = node
        self.payload = arg
        self.payloadType = PayloadType(State.self)
    }

    /// A send to a node that takes a payload of its own type (`addNode(_:payload:...)`).
    public init<Payload: Codable & Sendable>(_ node: String, payload: Payload) {
        self.node = node
        self.payload = payload
        self.payloadType = PayloadType(Payload.self)
    }
}

/// A type, comparable and printable: what a `Send` carries and what its node takes.
struct PayloadType: Sendable, Equatable, CustomStringConvertible {
    let id: ObjectIdentifier
    let description: String
    init(_ type: Any.Type) {
        id = ObjectIdentifier(type)
        description = String(describing: type)
    }
}

/// Where control goes next: a node by name, or a ``Send``.
public enum Goto<State: GraphState>: Sendable, ExpressibleByStringLiteral {
    /// Run the named node in the next superstep (`END` means nowhere).
    case node(String)
    /// Run a node with its own state in the next superstep.
    case send(Send<State>)

    /// A node by name.
    public init(stringLiteral value: String) { self = .node(value) }
}

/// An answer to pending interrupts.
public enum Resume: Sendable, Equatable {
    /// One answer for the only pending interrupt.
    case value(JSONValue)
    /// Answers by interrupt id, for several pending interrupts.
    case byID([String: JSONValue])
}

/// What a node returns, or what a caller passes to steer a paused run: a state update,
/// where to go next, and (as input only) the answer to pending interrupts.
///
/// Nodes usually build it with ``update(_:_:)``, ``goto(_:update:)`` or ``none``. As input,
/// `Command(resume:update:goto:)` applies `update` first, then resumes the paused nodes,
/// and `goto` nodes run in the same superstep.
public struct Command<State: GraphState>: Sendable {
    /// Writes to apply through the reducers.
    public var update: Update<State>
    /// Nodes (or sends) to run next, in addition to the node's edges.
    public var goto: [Goto<State>]
    /// Answers to pending interrupts (input only).
    public var resume: Resume?

    /// Creates a command.
    public init(update: Update<State> = Update(), goto: [Goto<State>] = [], resume: Resume? = nil) {
        self.update = update
        self.goto = goto
        self.resume = resume
    }

    /// A command that answers the only pending interrupt with `value`.
    public init(resume value: some Encodable & Sendable, update: Update<State> = Update(), goto: [Goto<State>] = []) throws {
        self.init(update: update, goto: goto, resume: .value(try JSONValue(encoding: value)))
    }

    /// A command that answers interrupts by id.
    public init(resumeByID answers: [String: JSONValue], update: Update<State> = Update(), goto: [Goto<State>] = []) {
        self.init(update: update, goto: goto, resume: .byID(answers))
    }

    /// No update, no routing beyond the node's edges.
    public static var none: Command { Command() }

    /// Writes `value` to one field.
    public static func update<V: Codable & Sendable>(_ keyPath: WritableKeyPath<State, V>, _ value: V) -> Command {
        Command(update: .set(keyPath, value))
    }

    /// Applies a multi-field update.
    public static func update(_ update: Update<State>) -> Command {
        Command(update: update)
    }

    /// Goes to `node` (or `END`) next, with an optional update.
    public static func goto(_ node: String, update: Update<State> = Update()) -> Command {
        Command(update: update, goto: [.node(node)])
    }

    /// Fans out to several nodes or sends.
    public static func goto(_ targets: [Goto<State>], update: Update<State> = Update()) -> Command {
        Command(update: update, goto: targets)
    }

    /// `true` when it carries nothing at all.
    public var isEmpty: Bool { update.isEmpty && goto.isEmpty && resume == nil }
}
