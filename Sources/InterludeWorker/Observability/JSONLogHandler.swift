import Foundation
import Interlude
import Logging

/// A log handler that writes one JSON object per line to standard error: `time`, `level`,
/// `label`, `message`, `source`, and every metadata key as its own field (`interlude.thread_id`,
/// `interlude.command_id`, `kafka.partition`, ...), for log pipelines that parse JSON.
public struct JSONLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    /// Records below this level are dropped. Default: info.
    public var logLevel: Logger.Level = .info
    /// Metadata added to every record.
    public var metadata: Logger.Metadata = [:]

    /// Creates a handler for `label`.
    public init(label: String) {
        self.label = label
    }

    /// Metadata by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line.
    public func log(event: LogEvent) {
        var object: [String: JSONValue] = [
            "time": .string(Timestamp.format(Date())), "level": .string(event.level.rawValue), "label": .string(label),
            "message": .string(event.message.description), "source": .string(event.source),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) where object[key] == nil {
            object[key] = Self.json(value)
        }
        FileHandle.standardError.write(JSONValue.object(object).jsonData + [10])
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let items): .array(items.map(json))
        case .dictionary(let fields): .object(fields.mapValues(json))
        }
    }
}
