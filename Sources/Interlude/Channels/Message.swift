import Foundation

/// A chat message, for message-list state fields declared with ``Channel/messages(_:_:)``.
public struct Message: Codable, Sendable, Equatable, Hashable {
    /// Who wrote a message.
    public enum Role: String, Codable, Sendable, Hashable {
        case system, user, assistant, tool
    }

    /// The id; the reducer assigns one when it is `nil`.
    public var id: String?
    /// Who wrote it.
    public var role: Role
    /// The text.
    public var content: String
    /// Tool calls an assistant message requests.
    public var toolCalls: [ToolCall]
    /// For a tool message: the call it answers.
    public var toolCallID: String?
    /// `true` for a removal marker made by ``remove(id:)``.
    public var isRemoval: Bool

    /// Creates a message.
    public init(id: String? = nil, role: Role, content: String, toolCalls: [ToolCall] = [], toolCallID: String? = nil) {
        self.id = id
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.isRemoval = false
    }

    /// A marker that deletes the message with this id when written to a message list.
    public static func remove(id: String) -> Message {
        var marker = Message(id: id, role: .system, content: "")
        marker.isRemoval = true
        return marker
    }

    /// The message-list reducer: replace by id in place, delete on a removal marker, append
    /// the rest (giving id-less messages a new id).
    static func merge(_ current: [Message], _ incoming: [Message]) -> [Message] {
        var result = current
        var position: [String: Int] = [:]
        for (i, message) in result.enumerated() { if let id = message.id { position[id] = i } }
        var removed = Set<String>()
        for var message in incoming {
            if message.id == nil { message.id = UUID().uuidString.lowercased() }
            let id = message.id!
            if message.isRemoval {
                removed.insert(id)
                continue
            }
            // A later write of the same id wins over an earlier removal marker.
            removed.remove(id)
            if let i = position[id] {
                result[i] = message
            } else {
                position[id] = result.count
                result.append(message)
            }
        }
        if !removed.isEmpty { result.removeAll { removed.contains($0.id ?? "") } }
        return result
    }
}

/// A tool call requested by an assistant message.
public struct ToolCall: Codable, Sendable, Equatable, Hashable {
    /// The call id.
    public var id: String
    /// The tool name.
    public var name: String
    /// The arguments, as JSON.
    public var arguments: JSONValue

    /// Creates a tool call.
    public init(id: String, name: String, arguments: JSONValue) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}
