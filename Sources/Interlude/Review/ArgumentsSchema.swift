import Foundation

/// A tool's argument schema: the subset of JSON Schema (draft 2020-12) that tool definitions
/// use, checked without any dependency.
///
/// Understood keywords: `type` (a name or a list; `integer` is a whole number), `enum`,
/// `const`, `properties`, `required`, `additionalProperties` (`false` or a schema), `items`,
/// `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`,
/// `pattern`, `minItems`, `maxItems`. Annotations (`title`, `description`, `default`,
/// `examples`, `$schema`, `$id`) are ignored, and so is any other keyword: a schema written
/// for a model may carry more than a reviewer's edit needs checking.
///
/// ```swift
/// let schema = ArgumentsSchema(["type": "object", "required": ["city"],
///                               "properties": ["city": ["type": "string", "minLength": 1]]])
/// schema.violations(of: ["city": 3])  // ["$.city: expected string, got 3"]
/// ```
public struct ArgumentsSchema: Sendable, Equatable, Codable {
    /// The schema as JSON.
    public var json: JSONValue

    /// Wraps a JSON Schema object.
    public init(_ json: JSONValue) { self.json = json }

    public init(from decoder: Decoder) throws { json = try JSONValue(from: decoder) }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }

    /// Every way `value` breaks the schema, as `path: problem` (the path starts at `$`, e.g.
    /// `$.items[2].qty: 0 is below the minimum 1`); empty when it conforms.
    public func violations(of value: JSONValue) -> [String] { Self.check(value, json, path: "$") }

    private static func check(_ value: JSONValue, _ schema: JSONValue, path: String) -> [String] {
        if schema == .bool(true) { return [] }
        if schema == .bool(false) { return ["\(path): no value is allowed here"] }
        guard let rules = schema.objectValue else { return [] }
        var problems: [String] = []
        if let type = rules["type"] {
            let names = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
            if !names.isEmpty, !names.contains(where: { matches(value, type: $0) }) {
                // A value of the wrong type makes every other rule noise: report this one.
                return ["\(path): expected \(names.joined(separator: " or ")), got \(value.shortDescription)"]
            }
        }
        if let constant = rules["const"], constant != value {
            problems.append("\(path): must be \(constant.shortDescription), got \(value.shortDescription)")
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(value) {
            problems.append("\(path): \(value.shortDescription) is not one of \(options.map(\.shortDescription).joined(separator: ", "))")
        }
        switch value {
        case .object(let object):
            for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                problems.append("\(path): missing required property '\(name)'")
            }
            let properties = rules["properties"]?.objectValue ?? [:]
            for name in object.keys.sorted() {
                let member = object[name]!
                if let sub = properties[name] {
                    problems += check(member, sub, path: "\(path).\(name)")
                } else if rules["additionalProperties"] == .bool(false) {
                    let known = properties.keys.sorted()
                    problems.append("\(path): unexpected property '\(name)'; allowed: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
                } else if let extra = rules["additionalProperties"], extra.objectValue != nil {
                    problems += check(member, extra, path: "\(path).\(name)")
                }
            }
        case .array(let array):
            if let items = rules["items"] {
                for (i, element) in array.enumerated() { problems += check(element, items, path: "\(path)[\(i)]") }
            }
            if let min = rules["minItems"]?.numberValue, Double(array.count) < min {
                problems.append("\(path): has \(array.count) items, fewer than the minimum \(format(min))")
            }
            if let max = rules["maxItems"]?.numberValue, Double(array.count) > max {
                problems.append("\(path): has \(array.count) items, more than the maximum \(format(max))")
            }
        case .string(let text):
            if let min = rules["minLength"]?.numberValue, Double(text.count) < min {
                problems.append("\(path): is \(text.count) characters long, shorter than the minimum \(format(min))")
            }
            if let max = rules["maxLength"]?.numberValue, Double(text.count) > max {
                problems.append("\(path): is \(text.count) characters long, longer than the maximum \(format(max))")
            }
            if let pattern = rules["pattern"]?.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): \(value.shortDescription) does not match the pattern \(pattern)")
            }
        case .number(let number):
            if let min = rules["minimum"]?.numberValue, number < min {
                problems.append("\(path): \(format(number)) is below the minimum \(format(min))")
            }
            if let max = rules["maximum"]?.numberValue, number > max {
                problems.append("\(path): \(format(number)) is above the maximum \(format(max))")
            }
            if let min = rules["exclusiveMinimum"]?.numberValue, number <= min {
                problems.append("\(path): \(format(number)) must be greater than \(format(min))")
            }
            if let max = rules["exclusiveMaximum"]?.numberValue, number >= max {
                problems.append("\(path): \(format(number)) must be less than \(format(max))")
            }
        default:
            break
        }
        return problems
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number):
            true
        case ("integer", .number(let n)):
            n == n.rounded(.towardZero) && n.isFinite
        default:
            false
        }
    }

    private static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}
