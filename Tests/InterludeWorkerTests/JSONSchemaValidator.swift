import Foundation
import Interlude
import InterludeWorker

/// The subset of JSON Schema (draft 2020-12) the message contracts use: type, const, enum,
/// required, properties, additionalProperties: false, items, minLength, minimum, pattern and
/// format date-time. Anything else in a schema fails validation, so a contract cannot
/// silently use a keyword this checker ignores.
struct JSONSchemaValidator {
    static let known: Set<String> = [
        "$schema", "$id", "title", "description", "type", "const", "enum", "required", "properties",
        "additionalProperties", "items", "minLength", "minimum", "maximum", "pattern", "format", "contentEncoding",
    ]

    let schema: JSONValue

    /// Every violation, as "path: problem".
    func errors(_ value: JSONValue) -> [String] { check(value, schema, path: "$") }

    private func check(_ value: JSONValue, _ schema: JSONValue, path: String) -> [String] {
        guard let rules = schema.objectValue else { return ["\(path): schema is not an object"] }
        var errors: [String] = []
        for key in rules.keys where !Self.known.contains(key) { errors.append("\(path): unsupported schema keyword '\(key)'") }
        if let type = rules["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !allowed.contains(where: { matches(value, $0) }) { errors.append("\(path): expected \(allowed.joined(separator: " or ")), got \(value)") }
        }
        if let constant = rules["const"], constant != value { errors.append("\(path): expected \(constant), got \(value)") }
        if let options = rules["enum"]?.arrayValue, !options.contains(value) { errors.append("\(path): \(value) is not one of \(options)") }
        if let object = value.objectValue {
            for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                errors.append("\(path): missing required '\(name)'")
            }
            let properties = rules["properties"]?.objectValue ?? [:]
            for (name, member) in object {
                if let sub = properties[name] {
                    errors += check(member, sub, path: "\(path).\(name)")
                } else if rules["additionalProperties"] == .bool(false) {
                    errors.append("\(path): unexpected property '\(name)'")
                }
            }
        }
        if let items = rules["items"], let array = value.arrayValue {
            for (i, element) in array.enumerated() { errors += check(element, items, path: "\(path)[\(i)]") }
        }
        if let text = value.stringValue {
            if let min = rules["minLength"]?.numberValue, Double(text.count) < min { errors.append("\(path): shorter than \(Int(min))") }
            if let pattern = rules["pattern"]?.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
                errors.append("\(path): '\(text)' does not match \(pattern)")
            }
            if rules["format"] == "date-time", Timestamp.parse(text) == nil { errors.append("\(path): '\(text)' is not a date-time") }
        }
        if let number = value.numberValue, let min = rules["minimum"]?.numberValue, number < min {
            errors.append("\(path): \(number) is below \(min)")
        }
        if let number = value.numberValue, let max = rules["maximum"]?.numberValue, number > max {
            errors.append("\(path): \(number) is above \(max)")
        }
        return errors
    }

    private func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null), ("number", .number): true
        case ("integer", .number(let n)): n.rounded() == n
        default: false
        }
    }
}
