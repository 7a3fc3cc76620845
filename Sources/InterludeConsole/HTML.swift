import Foundation
import Interlude

/// Text helpers for the server-rendered pages. Everything that comes from users, graphs or
/// storage goes through ``escape(_:)`` before it reaches a page.
enum HTML {
    /// Escapes text for HTML element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A query-string or form value, percent-encoded.
    static func query(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// The link to a thread's page.
    static func threadLink(_ threadID: String) -> String { "/thread?id=\(query(threadID))" }

    /// Indented JSON with sorted keys.
    static func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? value.description
    }

    /// A one-line summary of a question: its `prompt` when it has one, else compact JSON.
    static func summary(_ value: JSONValue, limit: Int = 140) -> String {
        let text = value["prompt"]?.stringValue ?? value.description
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }

    /// `2026-12-07 02:16:14 UTC`.
    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeZone: .gmt)).replacingOccurrences(of: "Z", with: " UTC")
    }

    /// `3 min`, `2 h 5 min`, `4 d 1 h`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86_400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86_400) d \(s % 86_400 / 3600) h"
    }

    /// How a deadline reads now: none, in N, or overdue by N.
    static func deadline(_ deadline: Date?, now: Date) -> String {
        guard let deadline else { return "none" }
        let left = deadline.timeIntervalSince(now)
        return left >= 0 ? "in \(duration(left)) (\(time(deadline)))" : "overdue by \(duration(-left)) (\(time(deadline)))"
    }

    /// Parses `a=1&b=two+words` (form bodies and query strings); later keys win.
    static func form(_ text: Substring) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}
