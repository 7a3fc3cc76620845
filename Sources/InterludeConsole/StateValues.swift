import Foundation
import Interlude

/// Rebuilds a checkpoint's state values as JSON without knowing the graph's state type, for
/// display: full blobs are the value, append deltas are JSON arrays added to their base.
enum StateValues {
    /// The state fields of `tuple` by name; internal channels (`__start__`, `branch:to:...`)
    /// are left out. A value that cannot be rebuilt shows as a string saying why.
    static func values(of tuple: CheckpointTuple) -> [String: JSONValue] {
        var byKey: [BlobKey: ChannelBlob] = [:]
        for blob in tuple.blobs { byKey[BlobKey(channel: blob.channel, version: blob.version)] = blob }
        var values: [String: JSONValue] = [:]
        for (name, version) in tuple.checkpoint.channelVersions where !name.hasPrefix("__") && !name.contains(":") {
            values[name] = value(channel: name, version: version, blobs: byKey)
        }
        return values
    }

    private static func value(channel: String, version: ChannelVersion, blobs: [BlobKey: ChannelBlob]) -> JSONValue {
        var chain: [ChannelBlob] = []
        var key = BlobKey(channel: channel, version: version)
        while let blob = blobs[key] {
            chain.append(blob)
            guard case .appendDelta(let base) = blob.encoding, let base else { break }
            key = BlobKey(channel: channel, version: base)
        }
        guard !chain.isEmpty else { return .string("(no stored value at version \(version))") }
        var elements: [JSONValue] = []
        var whole: JSONValue?
        for blob in chain.reversed() {
            guard let json = try? JSONValue(json: blob.data) else { return .string("(stored value is not JSON)") }
            switch blob.encoding {
            case .full:
                whole = json
                elements = json.arrayValue ?? []
            case .appendDelta:
                elements += json.arrayValue ?? []
                whole = .array(elements)
            }
        }
        return whole ?? .null
    }
}
