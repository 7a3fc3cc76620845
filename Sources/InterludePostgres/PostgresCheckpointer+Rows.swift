import Foundation
import Interlude

/// Conversions between the checkpointer's rows and the runtime's types.
extension PostgresCheckpointer {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    static let decoder = JSONDecoder()

    /// The members of ``Checkpoint/metadataObject`` that override the caller's metadata.
    static let derivedMetadataKeys = ["source", "step"]

    static func json(_ value: some Encodable) throws -> Data {
        do {
            return try encoder.encode(value)
        } catch {
            throw GraphError(.encodingFailed, "could not encode a \(type(of: value)) for PostgreSQL: \(error)")
        }
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ row: PostgresRow, _ column: Int) throws -> T {
        let data: Data = try row.decode(at: column)
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw GraphError(.decodingFailed, "stored column \(row.cells[column].column) is not a valid \(T.self): \(error)")
        }
    }

    static func decodeEnum<T: RawRepresentable>(_ type: T.Type, _ row: PostgresRow, _ column: Int) throws -> T where T.RawValue == String {
        let raw: String = try row.decode(at: column)
        guard let value = T(rawValue: raw) else {
            throw GraphError(.decodingFailed, "stored column \(row.cells[column].column) holds '\(raw)', not a \(T.self)")
        }
        return value
    }

    /// Channel versions as JSON: channel name -> checkpoint id text. Written and read with
    /// `JSONValue`'s own reader and writer, which cost a fraction of Foundation's coders here.
    static func versionsJSON(_ versions: [String: ChannelVersion]) -> JSONValue {
        .object(versions.mapValues { .string($0.description) })
    }

    static func jsonObject(_ row: PostgresRow, _ column: Int) throws -> [String: JSONValue] {
        let value: JSONValue = try row.decode(at: column)
        guard let object = value.objectValue else {
            throw GraphError(.decodingFailed, "stored column \(row.cells[column].column) is not a JSON object")
        }
        return object
    }

    static func versions(_ object: [String: JSONValue], _ row: PostgresRow, _ column: Int) throws -> [String: ChannelVersion] {
        try object.mapValues { value in
            guard let text = value.stringValue, let id = CheckpointID(text) else {
                throw GraphError(.decodingFailed, "stored column \(row.cells[column].column) holds a version that is not a checkpoint id: \(value)")
            }
            return id
        }
    }

    /// Columns: checkpoint_id, parent_id, step, source, graph_name, graph_version,
    /// channel_versions, versions_seen, metadata, shadowed_metadata, created_at.
    static func decodeCheckpoint(_ row: PostgresRow) throws -> Checkpoint {
        var metadata = try jsonObject(row, 8)
        for key in derivedMetadataKeys { metadata[key] = nil }
        if let shadowed: JSONValue = try row.decode(at: 9), let members = shadowed.objectValue {
            metadata.merge(members) { _, own in own }
        }
        return Checkpoint(
            id: try row.decode(at: 0), parentID: try row.decode(at: 1), step: try row.decode(at: 2),
            source: try decodeEnum(CheckpointSource.self, row, 3),
            createdAt: Date(timeIntervalSince1970: try row.decode(at: 10)),
            graph: GraphIdentity(name: try row.decode(at: 4), version: try row.decode(at: 5)),
            channelVersions: try versions(jsonObject(row, 6), row, 6),
            versionsSeen: try jsonObject(row, 7).mapValues { try versions($0.objectValue ?? [:], row, 7) },
            metadata: metadata)
    }

    /// Columns: channel, version, encoding, base_version, depth, data.
    static func decodeBlob(_ row: PostgresRow) throws -> ChannelBlob {
        let kind: String = try row.decode(at: 2)
        let encoding: ChannelBlob.Encoding
        switch kind {
        case "full": encoding = .full
        case "append_delta": encoding = .appendDelta(base: try row.decode(at: 3))
        default: throw GraphError(.decodingFailed, "stored blob encoding '\(kind)' is unknown")
        }
        return ChannelBlob(
            channel: try row.decode(at: 0), version: try row.decode(at: 1), encoding: encoding,
            depth: try row.decode(at: 4), data: try row.decode(at: 5))
    }

    /// Columns: thread_id, interrupt_id, checkpoint_id, task_id, node, value, status, deadline,
    /// on_timeout, created_at, resolved_at, resolved_by.
    static func decodeInterrupt(_ row: PostgresRow) throws -> InterruptRecord {
        let deadline: Double? = try row.decode(at: 7)
        let resolvedAt: Double? = try row.decode(at: 10)
        let onTimeout: TimeoutAction? =
            row.cells[8].bytes == nil ? nil : try decodeJSON(TimeoutAction.self, row, 8)
        return InterruptRecord(
            id: try row.decode(at: 1), threadID: try row.decode(at: 0), checkpointID: try row.decode(at: 2),
            taskID: try row.decode(at: 3), node: try row.decode(at: 4), value: try row.decode(at: 5),
            status: try decodeEnum(InterruptStatus.self, row, 6),
            deadline: deadline.map(Date.init(timeIntervalSince1970:)), onTimeout: onTimeout,
            createdAt: Date(timeIntervalSince1970: try row.decode(at: 9)),
            resolvedAt: resolvedAt.map(Date.init(timeIntervalSince1970:)), resolvedBy: try row.decode(at: 11),
            namespace: try row.decode(at: 12),
            approvers: row.cells[13].bytes == nil ? nil : try decodeJSON(Approvers.self, row, 13))
    }
}
