import Foundation

/// A JSON value: the type-erased form of interrupt payloads, resume values and metadata.
///
/// Interrupt questions and human answers cross process boundaries (PostgreSQL, Kafka, review
/// apps in any language), so the runtime keeps them as JSON and converts to and from typed
/// Swift values at the edges with ``JSONValue/init(encoding:)`` and ``JSONValue/decode(_:)``.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
    /// JSON `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number. Integers up to 2^53 round-trip exactly.
    case number(Double)
    /// A string.
    case string(String)
    /// An ordered list.
    case array([JSONValue])
    /// An object; keys are unordered.
    case object([String: JSONValue])

    /// Encodes any `Encodable` value into a JSON value.
    /// - Throws: `GraphError` with code `.encodingFailed` when the value cannot be encoded.
    public init(encoding value: some Encodable) throws {
        if let already = value as? JSONValue {
            self = already
            return
        }
        if let text = Self.plainText(value) {
            self = text
            return
        }
        let data: Data
        do {
            data = try JSONCoding.encoder.encode(value)
        } catch {
            throw GraphError(.encodingFailed, "could not encode a \(type(of: value)) as JSON: \(error)")
        }
        guard let parsed = Self.parse(data) else {
            throw GraphError(.encodingFailed, "a \(type(of: value)) encoded as text that is not JSON")
        }
        self = parsed
    }

    /// Decodes this JSON value into a typed Swift value.
    /// - Throws: `GraphError` with code `.invalidResumeValue` naming the expected type when the
    ///   JSON does not have the expected shape.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        if let same = self as? T { return same }
        do {
            return try JSONCoding.decoder.decode(T.self, from: serialized())
        } catch {
            throw GraphError(
                .invalidResumeValue,
                "expected a value of type \(T.self) but got \(self.shortDescription): \(error)"
            )
        }
    }

    /// Parses JSON text.
    /// - Throws: ``GraphError`` `.decodingFailed` saying what is wrong and at which byte.
    public init(json data: Data) throws {
        switch Self.parsing(data) {
        case .success(let value): self = value
        case .failure(let error): throw GraphError(.decodingFailed, "not valid JSON (\(data.count) bytes): \(error)")
        }
    }

    /// What kind of value this is, with its article, for error messages: `"an object"`,
    /// `"an array"`, `"a string"`, `"a number"`, `"a boolean"` or `"null"`.
    public var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// The compact JSON text of this value, with sorted keys.
    public var jsonData: Data { serialized() }

    /// Compact JSON text.
    public var description: String { String(decoding: jsonData, as: UTF8.self) }

    /// A description cut to 80 characters, for error messages.
    var shortDescription: String {
        let text = description
        return text.count > 80 ? String(text.prefix(77)) + "..." : text
    }

    /// The string payload, if this is a string.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    /// The boolean payload, if this is a boolean.
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The numeric payload, if this is a number.
    public var numberValue: Double? { if case .number(let n) = self { n } else { nil } }
    /// The members, if this is an object.
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// `true` for `.null`.
    public var isNull: Bool { if case .null = self { true } else { false } }

    /// The member named `key`, if this is an object that has it.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? container.decode(Double.self) {
            self = .number(n)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else if let o = try? container.decode([String: JSONValue].self) {
            self = .object(o)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n):
            if n.rounded() == n, abs(n) < 9_007_199_254_740_992 {
                try container.encode(Int64(n))
            } else {
                try container.encode(n)
            }
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// The one JSON encoder/decoder configuration the runtime uses, so that stored bytes are stable.
extension JSONValue {
    /// A `String` or `[String]` as JSON without Foundation's encoder, which cost 7% of a worker's
    /// CPU under load (perf), mostly on such state fields; `nil` for any other type. Strings
    /// come out as the encoder writes them, except that the control characters U+0008 and
    /// U+000C are written `\u0008` and `\u000c`, not `\b` and `\f` (the same JSON).
    static func plainText(_ value: some Encodable) -> JSONValue? {
        if let text = value as? String { return .string(text) }
        if let texts = value as? [String] { return .array(texts.map(JSONValue.string)) }
        return nil
    }
}

enum JSONCoding {
    /// `String` and `[String]` values (most state fields) read by `JSONValue`'s parser, the
    /// counterpart of ``JSONValue/plainText(_:)``: Foundation's decoder took ~2% of a worker's
    /// CPU reading them. Nil for any other type or text, which Foundation then reads (or
    /// refuses with its own message).
    static func plainValue<T>(_ type: T.Type, from data: Data) -> T? {
        guard T.self == String.self || T.self == [String].self, let value = try? JSONValue(json: data) else { return nil }
        switch value {
        case .string(let text): return text as? T
        case .array(let items):
            var texts: [String] = []
            texts.reserveCapacity(items.count)
            for item in items {
                guard case .string(let text) = item else { return nil }
                texts.append(text)
            }
            return texts as? T
        default: return nil
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func encode(_ value: some Encodable) throws -> Data {
        if let text = JSONValue.plainText(value) { return text.jsonData }
        do {
            return try encoder.encode(value)
        } catch {
            throw GraphError(.encodingFailed, "could not encode a \(type(of: value)) as JSON: \(error)")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: @autoclosure () -> String) throws -> T {
        if let text = plainValue(T.self, from: data) { return text }
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw GraphError(.decodingFailed, "could not decode \(what()) as \(T.self): \(error)")
        }
    }
}
