import Foundation
import Interlude

/// Why a message went to the dead-letter topic.
public struct DeadLetterReason: Sendable, Equatable, CustomStringConvertible {
    /// A stable code (`oversized`, `undecodable`, `invalid_envelope`, `unsupported_schema_version`,
    /// `unknown_type`, `wrong_topic`, `unknown_graph`, `duplicate_id`, `storage_rejected`,
    /// `processing_failed`).
    public var code: String
    /// What was wrong and where, for the operator.
    public var detail: String

    /// Creates a reason.
    public init(_ code: String, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}

/// Turns the bytes of a Kafka message into a ``CommandMessage``, or says precisely why not.
public struct CommandDecoder: Sendable {
    /// Messages larger than this go to the dead-letter topic. Default: 1 MiB.
    public var maxBytes: Int
    /// The longest command id and thread id, in UTF-8 bytes. Default: 256.
    public var maxIDBytes: Int

    /// Creates a decoder.
    public init(maxBytes: Int = 1 << 20, maxIDBytes: Int = 256) {
        self.maxBytes = maxBytes
        self.maxIDBytes = maxIDBytes
    }

    /// Decodes a command.
    public func decode(_ bytes: [UInt8]) -> Result<CommandMessage, DeadLetterReason> {
        guard bytes.count <= maxBytes else {
            return .failure(DeadLetterReason("oversized", "message is \(bytes.count) bytes; the limit is \(maxBytes)"))
        }
        let json: JSONValue
        switch JSONValue.parsing(Data(bytes)) {
        case .success(let value): json = value
        case .failure(let error): return .failure(DeadLetterReason("undecodable", "the message is not valid JSON: \(error); send a JSON object in UTF-8"))
        }
        guard let object = json.objectValue else {
            return .failure(DeadLetterReason("undecodable", "the message is JSON but not an object (it is \(json.kindName)); send a JSON object"))
        }
        if let path = Self.pathOfNUL(in: json, at: "") {
            // PostgreSQL refuses NUL in text and jsonb: such a command could never be stored.
            return .failure(DeadLetterReason("invalid_envelope", "\(path) contains a NUL character (\\u0000), which cannot be stored; remove it"))
        }
        do {
            return .success(try decode(object))
        } catch let reason as DeadLetterReason {
            return .failure(reason)
        } catch {
            return .failure(DeadLetterReason("invalid_envelope", "\(error)"))
        }
    }

    /// Checks an id: at most ``maxIDBytes`` bytes and no control characters, so it can key
    /// indexes and logs.
    private func identifier(_ field: String, _ value: String) throws -> String {
        let size = value.utf8.count
        guard size <= maxIDBytes else {
            throw DeadLetterReason("invalid_envelope", "field '\(field)' is \(size) bytes long; the limit is \(maxIDBytes) bytes (use a shorter id, such as a UUID)")
        }
        if let control = value.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw DeadLetterReason("invalid_envelope", "field '\(field)' contains the control character U+\(String(format: "%04X", control.value)); ids must be printable text")
        }
        return value
    }

    /// The path (`input.messages[2].content`) of the first string or member name that holds a
    /// NUL character, or `nil`.
    static func pathOfNUL(in value: JSONValue, at path: String) -> String? {
        switch value {
        case .string(let text):
            return text.utf8.contains(0) ? "field '\(path)'" : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = pathOfNUL(in: item, at: "\(path)[\(index)]") { return found }
            }
            return nil
        case .object(let members):
            for key in members.keys.sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if key.utf8.contains(0) { return "a member name in '\(path.isEmpty ? "(top level)" : path)'" }
                if let found = pathOfNUL(in: members[key]!, at: child) { return found }
            }
            return nil
        case .null, .bool, .number:
            return nil
        }
    }

    /// A run's `config`, field by field, so a refusal names the field and the rule: a
    /// recursion limit that is not a whole number from 1 to `Int32.max`, metadata that is not
    /// an object, breakpoints that are not lists of node names. Unknown members are ignored.
    static func config(_ raw: JSONValue) throws -> CommandConfig {
        guard let members = raw.objectValue else {
            throw DeadLetterReason("invalid_envelope", "field 'config' must be an object, not \(raw.kindName)")
        }
        var config = CommandConfig()
        if let limit = members["recursion_limit"], !limit.isNull {
            guard let number = limit.numberValue, number.rounded() == number, number >= 1, number <= Double(Int32.max) else {
                throw DeadLetterReason("invalid_envelope", "field 'config.recursion_limit' must be a whole number from 1 to \(Int32.max), not \(limit); leave it out for the worker's default")
            }
            config.recursionLimit = Int(number)
        }
        if let metadata = members["metadata"], !metadata.isNull {
            guard let object = metadata.objectValue else {
                throw DeadLetterReason("invalid_envelope", "field 'config.metadata' must be an object, not \(metadata.kindName)")
            }
            config.metadata = object
        }
        func nodes(_ key: String) throws -> [String]? {
            guard let value = members[key], !value.isNull else { return nil }
            let items = value.arrayValue ?? []
            let names = items.compactMap(\.stringValue)
            guard value.arrayValue != nil, names.count == items.count else {
                throw DeadLetterReason("invalid_envelope", "field 'config.\(key)' must be a list of node names (strings), like [\"review\"], or [\"*\"] for every node")
            }
            return names
        }
        config.interruptBefore = try nodes("interrupt_before")
        config.interruptAfter = try nodes("interrupt_after")
        return config
    }

    private func decode(_ object: [String: JSONValue]) throws -> CommandMessage {
        func string(_ key: String, required: Bool = true) throws -> String? {
            guard let value = object[key], !value.isNull else {
                if required { throw DeadLetterReason("invalid_envelope", "missing field '\(key)'") }
                return nil
            }
            guard let text = value.stringValue, !text.isEmpty else {
                throw DeadLetterReason("invalid_envelope", "field '\(key)' must be a non-empty string")
            }
            return text
        }
        let type = try string("type")!
        guard let version = object["schema_version"]?.numberValue else {
            throw DeadLetterReason("invalid_envelope", "missing field 'schema_version'")
        }
        guard Int(version) == messageSchemaVersion else {
            throw DeadLetterReason("unsupported_schema_version", "schema_version \(version) is not supported; this worker reads version \(messageSchemaVersion)")
        }
        let id = try identifier("id", try string("id")!)
        let threadID = try identifier("thread_id", try string("thread_id")!)
        let createdText = try string("created_at")!
        guard let createdAt = Timestamp.parse(createdText) else {
            throw DeadLetterReason("invalid_envelope", "field 'created_at' is not an RFC 3339 timestamp: \(createdText)")
        }
        func checkpoint(_ key: String) throws -> CheckpointID? {
            guard let text = try string(key, required: false) else { return nil }
            guard let id = CheckpointID(text) else {
                throw DeadLetterReason("invalid_envelope", "field '\(key)' is not a checkpoint id (a UUID): \(text)")
            }
            return id
        }
        func objectField(_ key: String) throws -> [String: JSONValue]? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let members = value.objectValue else {
                throw DeadLetterReason("invalid_envelope", "field '\(key)' must be an object")
            }
            return members
        }
        let body: CommandMessage.Body
        var actor: ReviewActor?
        var signature: ResumeSignature?
        switch type {
        case "run":
            let graph = try string("graph")!
            let input = try objectField("input") ?? [:]
            let config = try object["config"].flatMap { $0.isNull ? nil : try Self.config($0) }
            let ifBusyText = try string("if_busy", required: false) ?? IfBusy.reject.rawValue
            guard let ifBusy = IfBusy(rawValue: ifBusyText) else {
                throw DeadLetterReason("invalid_envelope", "field 'if_busy' must be 'reject' or 'restart', not '\(ifBusyText)'")
            }
            body = .run(graph: graph, input: input, config: config, ifBusy: ifBusy)
        case "resume":
            let values = try objectField("values")
            let value = object["value"]
            guard value != nil || values != nil else {
                throw DeadLetterReason("invalid_envelope", "a resume needs 'value' (one answer) or 'values' (answers by interrupt id)")
            }
            guard value == nil || values == nil else {
                throw DeadLetterReason("invalid_envelope", "a resume has either 'value' or 'values', not both")
            }
            body = .resume(value: value, values: values, checkpointID: try checkpoint("checkpoint_id"))
            if let raw = object["actor"], !raw.isNull {
                guard let decoded = ReviewActor(json: raw) else {
                    throw DeadLetterReason("invalid_envelope", "field 'actor' must be an object with a non-empty string 'id' and optional 'roles' (a list of strings), like {\"id\": \"alice\", \"roles\": [\"finance\"]}")
                }
                actor = decoded
            }
            if let raw = object["signature"], !raw.isNull { signature = try ResumeSignature(json: raw) }
        case "update_state":
            let continueRun = object["continue"]?.boolValue ?? false
            body = .updateState(values: try objectField("values"), asNode: try string("as_node", required: false), checkpointID: try checkpoint("checkpoint_id"), continueRun: continueRun)
        case "cancel":
            body = .cancel(reason: try string("reason", required: false))
        default:
            throw DeadLetterReason("unknown_type", "type '\(type)' is not one of run, resume, update_state, cancel")
        }
        return CommandMessage(id: id, threadID: threadID, createdAt: createdAt, body: body, actor: actor, signature: signature)
    }
}

extension DeadLetterReason: Error {}
