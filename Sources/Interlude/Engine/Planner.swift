import Foundation

/// Internal channel names.
enum Reserved {
    static let start = "__start__"
    static let sends = "__sends__"
    static let interrupt = "__interrupt__"
    static let resume = "__resume__"
    /// Answers by interrupt id for questions a task's subgraph asked.
    static let subgraphResume = "__subgraph_resume__"
    static let error = "__error__"
    static let done = "__done__"
    static let input = "__input__"
    static let nullTask = "00000000-0000-0000-0000-000000000000"
    static let branchPrefix = "branch:to:"
    /// Barrier channels of join edges: `join:<sources joined by +>:<target>`.
    static let joinPrefix = "join:"
    static func trigger(_ node: String) -> String { node == START ? start : branchPrefix + node }

    /// Indexes of special writes (regular writes count up from 0).
    static let errorIndex = -1
    static let interruptIndex = -3
    static let resumeIndex = -4
    static let doneIndex = -5
    static let subgraphResumeIndex = -6
}

/// A `Send` as stored in the `__sends__` channel.
struct SendPacket: Codable, Sendable, Equatable {
    var node: String
    var arg: JSONValue
}

/// A state write as stored in `__start__` and in null-task writes.
struct EncodedWrite: Codable, Sendable {
    var channel: String
    var value: JSONValue
}

/// A task planned for a superstep.
struct PlannedTask<State: GraphState>: Sendable {
    let id: String
    let node: String
    /// The trigger channel of a pull task; `nil` for a push (`Send`) task.
    let trigger: String?
    let pushIndex: Int?
    /// The input a `Send` carried (a state, or the node's own payload type), as JSON.
    let payload: JSONValue?
}

/// What a finished task wrote.
struct TaskOutput: Sendable {
    var stateWrites: [(channel: Int, value: any Sendable)] = []
    var targets: [String] = []
    var sends: [SendPacket] = []
    /// Barrier channels of join edges this task counts toward.
    var joins: [String] = []
}

/// A checkpoint's channel values rebuilt from its blobs.
struct Materialized<State: GraphState>: Sendable {
    var values: State
    var sends: [SendPacket]
    /// Join barriers: which sources finished since the join target last ran.
    var barriers: [String: [String]] = [:]
    /// The stored run input (`__start__`), decoded only if the START task must run from it.
    var startBlob: Data?
    /// For append channels: element count and delta depth at the current version.
    var appendInfo: [String: (count: Int, depth: Int)]
}

/// The pure half of the runtime: checkpoint + writes -> tasks / new values. No I/O.
extension CompiledGraph {
    func materialize(_ tuple: CheckpointTuple) throws -> Materialized<State> {
        var byKey: [BlobKey: ChannelBlob] = [:]
        for blob in tuple.blobs { byKey[BlobKey(channel: blob.channel, version: blob.version)] = blob }
        var result = Materialized(values: State(), sends: [], startBlob: nil, appendInfo: [:])
        for (name, version) in tuple.checkpoint.channelVersions {
            if let index = table.byName[name] {
                let channel = table.channels[index]
                var chain: [ChannelBlob] = []
                var key = BlobKey(channel: name, version: version)
                while true {
                    guard let blob = byKey[key] else {
                        throw GraphError(.decodingFailed, "checkpoint \(tuple.checkpoint.id) lacks the stored value of '\(name)' at version \(key.version); the store is incomplete")
                    }
                    chain.append(blob)
                    guard case .appendDelta(let base) = blob.encoding else { break }
                    guard let base else { break }
                    key = BlobKey(channel: name, version: base)
                }
                var count = 0
                for blob in chain.reversed() {
                    switch blob.encoding {
                    case .full: try channel.decodeValue(&result.values, blob.data)
                    case .appendDelta:
                        guard let append = channel.appendEncoded else {
                            throw GraphError(.decodingFailed, "channel '\(name)' is stored as a delta but is not an append channel; the state type changed incompatibly: bump the graph version")
                        }
                        try append(&result.values, blob.data)
                    }
                }
                if let counter = channel.elementCount { count = counter(result.values) }
                if channel.kind == .append { result.appendInfo[name] = (count, chain.first?.depth ?? 0) }
            } else if name == Reserved.sends, let blob = byKey[BlobKey(channel: name, version: version)] {
                result.sends = try JSONCoding.decode([SendPacket].self, from: blob.data, what: "pending sends")
            } else if name == Reserved.start, let blob = byKey[BlobKey(channel: name, version: version)] {
                result.startBlob = blob.data
            } else if name.hasPrefix(Reserved.joinPrefix), let blob = byKey[BlobKey(channel: name, version: version)] {
                result.barriers[name] = try JSONCoding.decode([String].self, from: blob.data, what: "join barrier '\(name)'")
            }
        }
        return result
    }

    /// The tasks of the superstep after `checkpoint`: nodes whose trigger channel is newer
    /// than what they last saw (by node name), then sends (by index).
    func plan(_ checkpoint: Checkpoint, sends: [SendPacket]) throws -> [PlannedTask<State>] {
        var tasks: [PlannedTask<State>] = []
        let step = String(checkpoint.step + 1)
        let id = checkpoint.id.description
        for (node, trigger) in triggers {
            guard let version = checkpoint.channelVersions[trigger] else { continue }
            if let seen = checkpoint.versionsSeen[node]?[trigger], seen >= version { continue }
            tasks.append(PlannedTask(id: StableHash.id(id, step, node, trigger), node: node, trigger: trigger, pushIndex: nil, payload: nil))
        }
        for (i, packet) in sends.enumerated() {
            tasks.append(PlannedTask(id: StableHash.id(id, step, "__push__", String(i), packet.node), node: packet.node, trigger: nil, pushIndex: i, payload: packet.arg))
        }
        return tasks
    }

    /// A `Send` as stored, after checking its target exists and takes what it carries.
    func packet(_ send: Send<State>, from source: String) throws -> SendPacket {
        guard let node = nodes[send.node] else {
            throw GraphError(.unknownNode, "\(source) targets '\(send.node)', which is not a node; nodes: \(nodeNames.joined(separator: ", "))")
        }
        guard node.payloadType == send.payloadType else {
            throw GraphError(
                .invalidUpdate,
                "\(source) to '\(send.node)' carries a \(send.payloadType), but '\(send.node)' takes a \(node.payloadType); send a \(node.payloadType) (Send(\"\(send.node)\", \(node.payloadAction == nil ? "state" : "payload: value")))")
        }
        return SendPacket(node: send.node, arg: try JSONValue(encoding: send.payload))
    }

    /// `true` when the superstep after `checkpoint` has any task (planning without making ids).
    func hasTasks(_ checkpoint: Checkpoint, sends: [SendPacket]) -> Bool {
        if !sends.isEmpty { return true }
        return triggers.contains { node, trigger in
            guard let version = checkpoint.channelVersions[trigger] else { return false }
            guard let seen = checkpoint.versionsSeen[node]?[trigger] else { return true }
            return version > seen
        }
    }

    /// `true` when some channel changed since the last breakpoint, so a breakpoint may fire.
    func updatedSinceLastInterrupt(_ checkpoint: Checkpoint) -> Bool {
        let seen = checkpoint.versionsSeen[Reserved.interrupt] ?? [:]
        return checkpoint.channelVersions.contains { name, version in
            guard let last = seen[name] else { return true }
            return version > last
        }
    }

    func breakpointMatches(_ names: Set<String>, _ node: String) -> Bool {
        node != START && (names.contains("*") || names.contains(node))
    }

    // MARK: Writes <-> pending writes

    func encode(_ output: TaskOutput, task: PlannedTask<State>) throws -> [PendingWrite] {
        var writes: [PendingWrite] = []
        var index = 0
        func add(_ channel: String, _ data: Data) {
            writes.append(PendingWrite(taskID: task.id, node: task.node, index: index, channel: channel, value: data))
            index += 1
        }
        for write in output.stateWrites {
            let channel = table.channels[write.channel]
            add(channel.name, try channel.encodeWrite(write.value))
        }
        for target in output.targets { add(Reserved.trigger(target), Data("null".utf8)) }
        for send in output.sends { add(Reserved.sends, try JSONCoding.encode(send)) }
        for join in output.joins { add(join, Data("null".utf8)) }
        writes.append(PendingWrite(taskID: task.id, node: task.node, index: Reserved.doneIndex, channel: Reserved.done, value: Data("null".utf8)))
        return writes
    }

    func decodeOutput(_ writes: [PendingWrite]) throws -> TaskOutput {
        var output = TaskOutput()
        for write in writes.filter({ $0.index >= 0 }).sorted(by: { $0.index < $1.index }) {
            if write.channel == Reserved.sends {
                output.sends.append(try JSONCoding.decode(SendPacket.self, from: write.value, what: "a saved send"))
            } else if write.channel.hasPrefix(Reserved.branchPrefix) {
                output.targets.append(String(write.channel.dropFirst(Reserved.branchPrefix.count)))
            } else if write.channel.hasPrefix(Reserved.joinPrefix) {
                output.joins.append(write.channel)
            } else {
                let index = try table.index(named: write.channel)
                output.stateWrites.append((index, try table.channels[index].decodeWrite(write.value)))
            }
        }
        return output
    }

    func decodeStateWrites(_ writes: [EncodedWrite]) throws -> [(channel: Int, value: any Sendable)] {
        try writes.map { write in
            let index = try table.index(named: write.channel)
            return (index, try table.channels[index].decodeWrite(write.value.jsonData))
        }
    }

    /// The run input as stored in the `__start__` channel: a JSON array of
    /// `{"channel": name, "value": json}`, built from each field's own encoding.
    func encodeInput(_ writes: [(channel: Int, value: any Sendable)]) throws -> Data {
        var data = Data("[".utf8)
        for (i, write) in writes.enumerated() {
            let channel = table.channels[write.channel]
            if i > 0 { data.append(UInt8(ascii: ",")) }
            data.append(contentsOf: #"{"channel":"#.utf8)
            data.append(try JSONCoding.encode(channel.name))
            data.append(contentsOf: #","value":"#.utf8)
            data.append(try channel.encodeWrite(write.value))
            data.append(UInt8(ascii: "}"))
        }
        data.append(UInt8(ascii: "]"))
        return data
    }

    func decodeInput(_ data: Data) throws -> [(channel: Int, value: any Sendable)] {
        try decodeStateWrites(try JSONCoding.decode([EncodedWrite].self, from: data, what: "run input"))
    }

    func encodeStateWrites(_ update: Update<State>) throws -> [EncodedWrite] {
        try update.writes.map { write in
            let index = try table.index(of: write.keyPath)
            let channel = table.channels[index]
            return EncodedWrite(channel: channel.name, value: try JSONValue(json: try channel.encodeWrite(write.value)))
        }
    }

    /// Applies writes through the reducers, grouped by channel in the given order.
    func apply(_ writes: [(channel: Int, value: any Sendable)], to values: inout State, writer: String) throws -> Set<Int> {
        var grouped: [Int: [any Sendable]] = [:]
        for write in writes { grouped[write.channel, default: []].append(write.value) }
        for index in grouped.keys.sorted() {
            try table.channels[index].reduce(&values, grouped[index]!, writer)
        }
        return Set(grouped.keys)
    }

    /// The blobs for channels changed at `version`: append channels as deltas while the
    /// chain is short and the list only grew, everything else in full.
    func blobs(
        for changed: Set<Int>, values: State, version: ChannelVersion, previous: Checkpoint?,
        appendInfo: inout [String: (count: Int, depth: Int)]
    ) throws -> [ChannelBlob] {
        var blobs: [ChannelBlob] = []
        for index in changed.sorted() {
            let channel = table.channels[index]
            if channel.kind == .append, let counter = channel.elementCount, let suffix = channel.encodeSuffix {
                let count = counter(values)
                let base = previous?.channelVersions[channel.name]
                if let info = appendInfo[channel.name], let base, info.count <= count, info.depth < Self.maxDeltaDepth {
                    blobs.append(ChannelBlob(channel: channel.name, version: version, encoding: .appendDelta(base: base), depth: info.depth + 1, data: try suffix(values, info.count)))
                    appendInfo[channel.name] = (count, info.depth + 1)
                    continue
                }
                appendInfo[channel.name] = (count, 0)
            }
            blobs.append(ChannelBlob(channel: channel.name, version: version, encoding: .full, depth: 0, data: try channel.encodeValue(values)))
        }
        return blobs
    }

    /// Deltas in a chain before a full value is stored again: bounds read cost, keeps
    /// storage linear in practice.
    static var maxDeltaDepth: Int { 32 }
}
