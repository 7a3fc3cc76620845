import Foundation
import Interlude

/// Two small local tools the tool-review example can call: a weather table and a calculator.
/// Deterministic and offline, so tests and demos need no network.
public enum LocalTools {
    /// The tool names: `weather` (`{"city": "Lisbon"}`) and `calculator`
    /// (`{"a": 6, "op": "*", "b": 7}`).
    public static let names = ["weather", "calculator"]

    /// The tools' argument schemas (JSON Schema), by tool name: what a reviewer's edit must
    /// satisfy.
    public static let argumentSchemas: [String: ArgumentsSchema] = [
        "weather": ArgumentsSchema([
            "type": "object", "required": ["city"], "additionalProperties": false,
            "properties": ["city": ["type": "string", "minLength": 1, "description": "A city name, e.g. Lisbon"]],
        ]),
        "calculator": ArgumentsSchema([
            "type": "object", "required": ["a", "op", "b"], "additionalProperties": false,
            "properties": ["a": ["type": "number"], "op": ["enum": ["+", "-", "*", "/"]], "b": ["type": "number"]],
        ]),
    ]

    /// The weather table, by lower-cased city name.
    public static let weatherTable: [String: String] = [
        "lisbon": "24°C, sunny", "paris": "18°C, cloudy", "london": "14°C, light rain",
        "tokyo": "22°C, clear", "oslo": "6°C, snow showers",
    ]

    /// Runs a tool call and returns its output as text; bad arguments give an error text
    /// (a tool result the model can read), never a thrown error.
    public static func run(_ call: ToolCall) -> String {
        switch call.name {
        case "weather":
            guard let city = call.arguments["city"]?.stringValue else { return "error: weather needs a \"city\" string" }
            guard let report = weatherTable[city.lowercased()] else {
                return "error: no weather data for \(city); known: \(weatherTable.keys.sorted().joined(separator: ", "))"
            }
            return "\(city): \(report)"
        case "calculator":
            guard let a = call.arguments["a"]?.numberValue, let b = call.arguments["b"]?.numberValue,
                let op = call.arguments["op"]?.stringValue
            else { return "error: calculator needs numbers \"a\", \"b\" and an \"op\"" }
            let value: Double
            switch op {
            case "+": value = a + b
            case "-": value = a - b
            case "*", "x": value = a * b
            case "/":
                guard b != 0 else { return "error: division by zero" }
                value = a / b
            default: return "error: unknown operator \(op); use + - * /"
            }
            return format(a) + " " + op + " " + format(b) + " = " + format(value)
        default:
            return "error: unknown tool \(call.name); tools: \(names.joined(separator: ", "))"
        }
    }

    /// A call as one line, e.g. `weather({"city":"Lisbon"})`.
    public static func describe(_ call: ToolCall) -> String { "\(call.name)(\(call.arguments))" }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}
