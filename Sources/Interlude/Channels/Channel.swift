import Foundation

/// A state type a graph runs on: a Codable struct whose fields are declared as channels.
///
/// Every stored field must appear in ``channels`` with its reducer; `compile()` checks this
/// and names any field that is missing. A field with no reducer (``Channel/value(_:_:)``)
/// keeps the last value written and accepts at most one write per superstep.
///
/// ```swift
/// struct EmailState: GraphState {
///     var to = ""
///     var draft = ""
///     var log: [String] = []
///     static let channels: [Channel<EmailState>] = [
///         .value("to", \.to), .value("draft", \.draft), .append("log", \.log),
///     ]
/// }
/// ```
public protocol GraphState: Codable, Sendable {
    /// The empty state a new thread starts from. Structs whose fields all have defaults get
    /// this initializer for free.
    init()
    /// One channel per stored field, named as the field is encoded.
    static var channels: [Channel<Self>] { get }
}

/// How a channel folds the writes of one superstep into its value.
public enum ChannelKind: String, Sendable {
    /// Keeps the last value; two writes in one superstep are an error.
    case lastValue
    /// Appends every written list, in the fixed write order.
    case append
    /// Merges messages by id: same id replaces, a removal marker deletes, no id gets one.
    case messages
    /// Folds writes with a custom function.
    case reducer
}

/// One state field as the runtime sees it: its name, its reducer and how to store it.
///
/// Build channels with the static factories ``value(_:_:)``, ``append(_:_:)``,
/// ``messages(_:_:)`` and ``reducer(_:_:_:)``.
public final class Channel<State: GraphState>: @unchecked Sendable {
    // @unchecked: every stored property is a constant; the key path is immutable and only
    // read, and every closure is @Sendable. A class, so handing a channel around costs one
    // retain instead of one per closure.

    /// The channel name: the field's coding key.
    public let name: String
    /// The reducer kind.
    public let kind: ChannelKind
    let keyPath: AnyKeyPath
    let reduce: @Sendable (inout State, [any Sendable], String) throws -> Void
    let encodeValue: @Sendable (State) throws -> Data
    let decodeValue: @Sendable (inout State, Data) throws -> Void
    let encodeWrite: @Sendable (any Sendable) throws -> Data
    let decodeWrite: @Sendable (Data) throws -> any Sendable
    let writeFromState: @Sendable (State) -> any Sendable
    let elementCount: (@Sendable (State) -> Int)?
    let encodeSuffix: (@Sendable (State, Int) throws -> Data)?
    let appendEncoded: (@Sendable (inout State, Data) throws -> Void)?

    init(
        name: String, kind: ChannelKind, keyPath: AnyKeyPath,
        reduce: @escaping @Sendable (inout State, [any Sendable], String) throws -> Void,
        assign: @escaping @Sendable (inout State, any Sendable) -> Void,
        encodeValue: @escaping @Sendable (State) throws -> Data, decodeValue: @escaping @Sendable (inout State, Data) throws -> Void,
        encodeWrite: @escaping @Sendable (any Sendable) throws -> Data, decodeWrite: @escaping @Sendable (Data) throws -> any Sendable,
        writeFromState: @escaping @Sendable (State) -> any Sendable, elementCount: (@Sendable (State) -> Int)?,
        encodeSuffix: (@Sendable (State, Int) throws -> Data)?, appendEncoded: (@Sendable (inout State, Data) throws -> Void)?
    ) {
        self.name = name
        self.kind = kind
        self.keyPath = keyPath
        // An `Overwrite` write replaces the value, bypassing the reducer, as in LangGraph:
        // earlier writes of the step are lost, later ones ignored; two in one step are an
        // error. A field without a reducer treats it as its one ordinary write.
        self.reduce = { state, writes, writer in
            let overwrites = writes.indices.filter { writes[$0] is OverwriteWrite }
            guard let first = overwrites.first else { return try reduce(&state, writes, writer) }
            guard overwrites.count == 1 else {
                throw GraphError(
                    .invalidUpdate,
                    "field '\(name)' received \(overwrites.count) Overwrite writes in one superstep (from \(writer)); only one write per step can replace the value: overwrite it from one node, or use ordinary updates that its reducer folds in")
            }
            if kind == .lastValue { return try reduce(&state, writes.map { ($0 as? OverwriteWrite)?.value ?? $0 }, writer) }
            assign(&state, (writes[first] as! OverwriteWrite).value)
        }
        self.encodeValue = encodeValue
        self.decodeValue = decodeValue
        self.encodeWrite = { value in
            guard let overwrite = value as? OverwriteWrite else { return try encodeWrite(value) }
            var data = overwritePrefix
            data.append(try encodeWrite(overwrite.value))
            data.append(UInt8(ascii: "}"))
            return data
        }
        self.decodeWrite = { data in
            guard data.starts(with: overwritePrefix), data.last == UInt8(ascii: "}") else { return try decodeWrite(data) }
            return OverwriteWrite(value: try decodeWrite(Data(data.dropFirst(overwritePrefix.count).dropLast())))
        }
        self.writeFromState = writeFromState
        self.elementCount = elementCount
        self.encodeSuffix = encodeSuffix
        self.appendEncoded = appendEncoded
    }

    private static func coders<V: Codable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<State, V>
    ) -> (
        encodeValue: @Sendable (State) throws -> Data, decodeValue: @Sendable (inout State, Data) throws -> Void,
        encodeWrite: @Sendable (any Sendable) throws -> Data, decodeWrite: @Sendable (Data) throws -> any Sendable,
        assign: @Sendable (inout State, any Sendable) -> Void
    ) {
        nonisolated(unsafe) let kp = keyPath  // key paths are immutable values
        return (
            { state in try JSONCoding.encode(state[keyPath: kp]) },
            { state, data in state[keyPath: kp] = try JSONCoding.decode(V.self, from: data, what: "channel '\(name)'") },
            { value in try JSONCoding.encode(value as! V) },
            { data in try JSONCoding.decode(V.self, from: data, what: "a write to channel '\(name)'") },
            { state, value in state[keyPath: kp] = value as! V }
        )
    }

    /// A field that keeps the last value written. Two writes in one superstep fail with
    /// `GraphError` `.invalidUpdate` naming the field.
    public static func value<V: Codable & Sendable>(_ name: String, _ keyPath: WritableKeyPath<State, V>) -> Channel {
        nonisolated(unsafe) let kp = keyPath  // key paths are immutable values
        let c = coders(name, keyPath)
        return Channel(
            name: name, kind: .lastValue, keyPath: keyPath,
            reduce: { state, writes, writer in
                guard writes.count <= 1 else {
                    throw GraphError(
                        .invalidUpdate,
                        "field '\(name)' received \(writes.count) writes in one superstep (from \(writer)); a field without a reducer takes one write per step: declare it with .append, .messages or .reducer, or write it from one node"
                    )
                }
                if let last = writes.last { state[keyPath: kp] = last as! V }
            },
            assign: c.assign, encodeValue: c.encodeValue, decodeValue: c.decodeValue, encodeWrite: c.encodeWrite, decodeWrite: c.decodeWrite,
            writeFromState: { $0[keyPath: kp] },
            elementCount: nil, encodeSuffix: nil, appendEncoded: nil)
    }

    /// A list field that appends every written list. Stored as deltas: a step that appends
    /// three elements stores those three, not the whole list.
    public static func append<E: Codable & Sendable>(_ name: String, _ keyPath: WritableKeyPath<State, [E]>) -> Channel {
        nonisolated(unsafe) let kp = keyPath  // key paths are immutable values
        let c = coders(name, keyPath)
        return Channel(
            name: name, kind: .append, keyPath: keyPath,
            reduce: { state, writes, _ in
                for write in writes { state[keyPath: kp].append(contentsOf: write as! [E]) }
            },
            assign: c.assign, encodeValue: c.encodeValue, decodeValue: c.decodeValue, encodeWrite: c.encodeWrite, decodeWrite: c.decodeWrite,
            writeFromState: { $0[keyPath: kp] },
            elementCount: { $0[keyPath: kp].count },
            encodeSuffix: { state, from in try JSONCoding.encode(Array(state[keyPath: kp].dropFirst(from))) },
            appendEncoded: { state, data in
                state[keyPath: kp].append(contentsOf: try JSONCoding.decode([E].self, from: data, what: "a delta of channel '\(name)'"))
            })
    }

    /// A message list merged by id (see ``Message``): a message with a known id replaces it in
    /// place, ``Message/remove(id:)`` deletes one, a message without an id gets a new one.
    public static func messages(_ name: String, _ keyPath: WritableKeyPath<State, [Message]>) -> Channel {
        nonisolated(unsafe) let kp = keyPath  // key paths are immutable values
        let c = coders(name, keyPath)
        return Channel(
            name: name, kind: .messages, keyPath: keyPath,
            reduce: { state, writes, _ in
                for write in writes { state[keyPath: kp] = Message.merge(state[keyPath: kp], write as! [Message]) }
            },
            assign: c.assign, encodeValue: c.encodeValue, decodeValue: c.decodeValue, encodeWrite: c.encodeWrite, decodeWrite: c.decodeWrite,
            writeFromState: { $0[keyPath: kp] },
            elementCount: nil, encodeSuffix: nil, appendEncoded: nil)
    }

    /// A field folded with a custom function: `new = combine(old, write)` for every write of
    /// the step, in the fixed write order.
    public static func reducer<V: Codable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<State, V>, _ combine: @escaping @Sendable (V, V) -> V
    ) -> Channel {
        nonisolated(unsafe) let kp = keyPath  // key paths are immutable values
        let c = coders(name, keyPath)
        return Channel(
            name: name, kind: .reducer, keyPath: keyPath,
            reduce: { state, writes, _ in
                for write in writes { state[keyPath: kp] = combine(state[keyPath: kp], write as! V) }
            },
            assign: c.assign, encodeValue: c.encodeValue, decodeValue: c.decodeValue, encodeWrite: c.encodeWrite, decodeWrite: c.decodeWrite,
            writeFromState: { $0[keyPath: kp] },
            elementCount: nil, encodeSuffix: nil, appendEncoded: nil)
    }
}

/// A write that replaces a field's value instead of going through its reducer; made by
/// ``Update/overwrite(_:_:)``.
struct OverwriteWrite: Sendable {
    let value: any Sendable
}

/// How an `Overwrite` write is stored in a pending write: `{"__overwrite__":<value>}`.
let overwritePrefix = Data(#"{"__overwrite__":"#.utf8)

/// The compiled view of a state type's channels: lookup by key path and by name.
struct ChannelTable<State: GraphState>: @unchecked Sendable {
    // @unchecked: built once in compile() and never mutated; key paths are immutable.
    let channels: [Channel<State>]
    let byKeyPath: [AnyKeyPath: Int]
    let byName: [String: Int]

    init(_ channels: [Channel<State>]) throws {
        self.channels = channels
        var byKeyPath: [AnyKeyPath: Int] = [:]
        var byName: [String: Int] = [:]
        for (i, channel) in channels.enumerated() {
            guard byName[channel.name] == nil else {
                throw GraphError(.invalidGraph, "\(State.self).channels declares '\(channel.name)' twice; give every field one channel")
            }
            guard !channel.name.hasPrefix("__"), !channel.name.hasPrefix("branch:"), !channel.name.hasPrefix(Reserved.joinPrefix) else {
                throw GraphError(.invalidGraph, "\(State.self).channels: the name '\(channel.name)' is reserved for the runtime; rename the field")
            }
            guard byKeyPath[channel.keyPath] == nil else {
                throw GraphError(.invalidGraph, "\(State.self).channels declares the key path of '\(channel.name)' twice")
            }
            byKeyPath[channel.keyPath] = i
            byName[channel.name] = i
        }
        self.byKeyPath = byKeyPath
        self.byName = byName
        try checkCoverage()
    }

    /// Every field the state encodes must be a declared channel, or it would never be saved.
    private func checkCoverage() throws {
        let encoded = try JSONCoding.encode(State())
        guard let object = try JSONValue(json: encoded).objectValue else {
            throw GraphError(.invalidGraph, "\(State.self) must encode as a JSON object (a struct with fields)")
        }
        let missing = Set(object.keys).subtracting(byName.keys).sorted()
        if !missing.isEmpty {
            throw GraphError(
                .invalidGraph,
                "\(State.self) has fields with no channel: \(missing.joined(separator: ", ")); add them to \(State.self).channels, e.g. .value(\"\(missing[0])\", \\.\(missing[0]))"
            )
        }
        let unknown = Set(byName.keys).subtracting(object.keys).sorted()
        if !unknown.isEmpty {
            throw GraphError(
                .invalidGraph,
                "\(State.self).channels names \(unknown.joined(separator: ", ")), which \(State.self) does not encode; channel names must match the fields' coding keys"
            )
        }
    }

    func index(of keyPath: AnyKeyPath) throws -> Int {
        guard let i = byKeyPath[keyPath] else {
            throw GraphError(.invalidUpdate, "a write targets a field of \(State.self) that is not in \(State.self).channels; declare it there")
        }
        return i
    }

    func index(named name: String) throws -> Int {
        guard let i = byName[name] else {
            throw GraphError(.invalidUpdate, "'\(name)' is not a channel of \(State.self); known: \(byName.keys.sorted().joined(separator: ", "))")
        }
        return i
    }
}
