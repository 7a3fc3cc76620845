import Foundation

/// A small, strict JSON reader and writer for ``JSONValue``: the runtime converts questions,
/// answers and saved writes to and from JSON on every pause and resume, and Foundation's
/// coders (built for typed values) were the largest cost there.
extension JSONValue {
    /// Compact JSON text, object keys sorted (so equal values have equal bytes).
    func serialized() -> Data {
        var out = [UInt8]()
        out.reserveCapacity(64)
        Self.write(self, to: &out)
        return Data(out)
    }

    private static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n):
            if n.rounded() == n, abs(n) < 9_007_199_254_740_992 {
                out.append(contentsOf: String(Int64(n)).utf8)
            } else if n.isFinite {
                out.append(contentsOf: "\(n)".utf8)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let s): writeString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(members[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copy their bytes at once.
        var string = s
        let copied = string.withUTF8 { bytes -> Bool in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses JSON text; `nil` when it is not exactly one valid JSON value.
    static func parse(_ data: Data) -> JSONValue? {
        if case .success(let value) = parsing(data) { return value }
        return nil
    }

    /// Parses JSON text, or says what is wrong with it and at which byte (the first problem
    /// met): a number beyond a 64-bit float, an unpaired surrogate escape, invalid UTF-8 and
    /// nesting deeper than ``maxDepth`` are refused as well as what the grammar forbids.
    public static func parsing(_ data: Data) -> Result<JSONValue, JSONSyntaxError> {
        data.withUnsafeBytes { raw -> Result<JSONValue, JSONSyntaxError> in
            var parser = Parser(bytes: raw.bindMemory(to: UInt8.self))
            guard let value = parser.value(depth: 0) else {
                return .failure(parser.failure ?? JSONSyntaxError(offset: parser.position, problem: "not valid JSON"))
            }
            parser.skipSpace()
            guard parser.position == parser.bytes.count else {
                return .failure(JSONSyntaxError(offset: parser.position, problem: "text after the JSON value"))
            }
            return .success(value)
        }
    }

    /// The deepest nesting of arrays and objects the reader accepts.
    public static let maxDepth = 512

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0
        /// The first problem met; the functions that meet one return `nil` after recording it.
        var failure: JSONSyntaxError?

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        /// Records `problem` at `offset` (default: the current position) and returns `nil`.
        mutating func fail<T>(_ problem: String, at offset: Int? = nil) -> T? {
            if failure == nil { failure = JSONSyntaxError(offset: offset ?? position, problem: problem) }
            return nil
        }

        mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x0A, 0x0D, 0x09: position += 1
                default: return
                }
            }
        }

        mutating func literal(_ text: StaticString, _ value: JSONValue) -> JSONValue? {
            let count = text.utf8CodeUnitCount
            guard position + count <= bytes.count else { return fail(Self.notAValue) }
            for i in 0..<count where bytes[position + i] != text.utf8Start[i] { return fail(Self.notAValue) }
            position += count
            return value
        }

        static let notAValue = "not a JSON value (expected null, true, false, a number, a string, an array or an object)"

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < JSONValue.maxDepth else { return fail("arrays and objects nested deeper than \(JSONValue.maxDepth) levels") }
            skipSpace()
            guard position < bytes.count else { return fail("the text ends where a value was expected") }
            switch bytes[position] {
            case UInt8(ascii: "n"): return literal("null", .null)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "\""): return string().map(JSONValue.string)
            case UInt8(ascii: "["):
                position += 1
                var elements: [JSONValue] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
                while true {
                    guard let element = value(depth: depth + 1) else { return nil }
                    elements.append(element)
                    skipSpace()
                    guard position < bytes.count else { return fail("the text ends inside an array") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
                    return fail("expected ',' or ']' after an array element")
                }
            case UInt8(ascii: "{"):
                position += 1
                var members: [String: JSONValue] = [:]
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard position < bytes.count else { return fail("the text ends inside an object") }
                    guard bytes[position] == UInt8(ascii: "\"") else { return fail("expected a member name (a string in double quotes)") }
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return fail("expected ':' after the member name \"\(key.prefix(40))\"") }
                    position += 1
                    guard let member = value(depth: depth + 1) else { return nil }
                    members[key] = member
                    skipSpace()
                    guard position < bytes.count else { return fail("the text ends inside an object") }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                    return fail("expected ',' or '}' after the member \"\(key.prefix(40))\"")
                }
            default:
                return number()
            }
        }

        mutating func number() -> JSONValue? {
            let start = position
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let digitsStart = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
            guard position > digitsStart else { return fail(Self.notAValue, at: start) }
            if bytes[digitsStart] == UInt8(ascii: "0"), position - digitsStart > 1 { return fail("a number with a leading zero", at: start) }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                let fraction = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                guard position > fraction else { return fail("a number with no digit after its '.'", at: start) }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                let exponent = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                guard position > exponent else { return fail("a number with no digit in its exponent", at: start) }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            // Double("1e400") is infinity: a number no JSON value can hold, so it is refused.
            guard let number = Double(text), number.isFinite else {
                return fail("the number \(text.prefix(40)) is beyond the range of a 64-bit float", at: start)
            }
            return .number(number)
        }

        mutating func hexValue(_ count: Int) -> UInt32? {
            guard position + count <= bytes.count else { return nil }
            var value: UInt32 = 0
            for _ in 0..<count {
                let c = bytes[position]
                let digit: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }

        /// The text of `bytes`, or nil when they are not valid UTF-8. `String(decoding:)` is the
        /// standard library's fast path, but it replaces bad bytes with U+FFFD: its result spells
        /// the input byte for byte only when the input was valid. (`String(validating:as:)`
        /// reached an unspecialized generic validation, ~2% of a worker's CPU under load.)
        static func validUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
            let text = String(decoding: bytes, as: UTF8.self)
            let same = text.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(bytes) } ?? text.utf8.elementsEqual(bytes)
            return same ? text : nil
        }

        mutating func string() -> String? {
            let start = position
            position += 1  // opening quote
            // Most strings have no escape: take their bytes at once.
            var end = position
            while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                guard let text = Self.validUTF8(UnsafeBufferPointer(rebasing: bytes[position..<end])) else {
                    return fail("invalid UTF-8 in the string starting", at: start)
                }
                position = end + 1
                return text
            }
            var out = [UInt8]()
            while position < bytes.count {
                let c = bytes[position]
                position += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let text = out.withUnsafeBufferPointer(Self.validUTF8) else {
                        return fail("invalid UTF-8 in the string starting", at: start)
                    }
                    return text
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { return fail("the text ends inside a string") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        let escapeAt = position - 2
                        guard var scalar = hexValue(4) else { return fail("a \\u escape without 4 hex digits", at: escapeAt) }
                        if (0xD800...0xDBFF).contains(scalar) {
                            let high = scalar
                            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                                return fail(Self.unpaired(high), at: escapeAt)
                            }
                            position += 2
                            guard let low = hexValue(4), (0xDC00...0xDFFF).contains(low) else { return fail(Self.unpaired(high), at: escapeAt) }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { return fail(Self.unpaired(scalar), at: escapeAt) }
                        out.append(contentsOf: Array(String(Character(unicode)).utf8))
                    default:
                        return fail("an invalid escape '\\\(Unicode.Scalar(escape).escaped(asASCII: true))' in a string", at: position - 2)
                    }
                case 0..<0x20:
                    return fail("an unescaped control character (byte 0x\(String(c, radix: 16, uppercase: true))) in a string; write it as a \\u escape", at: position - 1)
                default:
                    out.append(c)
                }
            }
            return fail("the text ends inside the string starting", at: start)
        }

        /// The problem of a surrogate `\\u` escape that is not half of a pair.
        static func unpaired(_ scalar: UInt32) -> String {
            "an unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true)) in a string (a high surrogate \\uD800-\\uDBFF must be followed by a low one \\uDC00-\\uDFFF)"
        }
    }
}

/// What is wrong with a JSON text and where: the problem and its byte offset.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte offset (from 0) where the problem was met.
    public var offset: Int
    /// What is wrong, in words.
    public var problem: String

    /// Creates an error.
    public init(offset: Int, problem: String) {
        self.offset = offset
        self.problem = problem
    }

    /// `"<problem> at byte <offset>"`.
    public var description: String { "\(problem) at byte \(offset)" }
}
