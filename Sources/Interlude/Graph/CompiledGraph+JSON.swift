import Foundation

extension CompiledGraph {
    /// Builds an update from a JSON object keyed by channel name, as commands from other
    /// languages carry it. Each value is decoded as that field's type.
    /// - Throws: `GraphError` `.invalidUpdate` naming an unknown field, `.decodingFailed`
    ///   naming the field whose value has the wrong shape.
    public func update(fromJSON object: [String: JSONValue]) throws -> Update<State> {
        var update = Update<State>()
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            let index = try table.index(named: name)
            let channel = table.channels[index]
            update.writes.append(Update<State>.Write(keyPath: channel.keyPath, value: try channel.decodeWrite(value.jsonData)))
        }
        return update
    }
}
