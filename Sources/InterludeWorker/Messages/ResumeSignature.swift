import Foundation
import Interlude

/// An Ed25519 signature a review app puts on a resume (`signature` in the envelope), so a
/// worker that requires signed answers knows the answer and its actor came from a key holder.
///
/// It covers ``SignedResume/canonicalBytes(threadID:value:values:actor:signature:)``: the
/// thread, the answer(s) with their interrupt ids, the actor, the key id, issued-at and expiry.
public struct ResumeSignature: Sendable, Equatable {
    /// Which key signed (a key of the worker's key set).
    public var keyID: String
    /// When it was signed, in whole seconds since 1970 (UTC).
    public var issuedAt: Int64
    /// When it stops being valid, in whole seconds since 1970 (UTC).
    public var expiresAt: Int64
    /// The 64-byte Ed25519 signature, base64 (standard alphabet, padded).
    public var signature: String

    /// Creates a signature.
    public init(keyID: String, issuedAt: Int64, expiresAt: Int64, signature: String) {
        self.keyID = keyID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.signature = signature
    }

    /// The JSON form: `{"key_id", "issued_at", "expires_at", "sig"}`.
    public var json: JSONValue {
        .object([
            "key_id": .string(keyID), "issued_at": .number(Double(issuedAt)), "expires_at": .number(Double(expiresAt)),
            "sig": .string(signature),
        ])
    }

    /// Reads the JSON form.
    /// - Throws: ``DeadLetterReason`` `invalid_envelope` saying which member is wrong.
    init(json: JSONValue) throws {
        func fail(_ detail: String) -> DeadLetterReason {
            DeadLetterReason("invalid_envelope", "field 'signature' \(detail); it is {\"key_id\": string, \"issued_at\": seconds, \"expires_at\": seconds, \"sig\": base64} (docs/message-contracts.md)")
        }
        guard json.objectValue != nil else { throw fail("must be an object") }
        guard let keyID = json["key_id"]?.stringValue, !keyID.isEmpty else { throw fail("needs a non-empty string 'key_id'") }
        func seconds(_ key: String) throws -> Int64 {
            guard let number = json[key]?.numberValue, number == number.rounded(), abs(number) < 1e15 else {
                throw fail("needs '\(key)' as whole seconds since 1970")
            }
            return Int64(number)
        }
        guard let signature = json["sig"]?.stringValue, !signature.isEmpty else { throw fail("needs a non-empty base64 string 'sig'") }
        self.init(keyID: keyID, issuedAt: try seconds("issued_at"), expiresAt: try seconds("expires_at"), signature: signature)
    }
}

/// The byte string a resume signature covers, defined so any language can produce it.
///
/// `interlude-resume-v1` and a line feed (0x0A), then the canonical JSON of one object with
/// these members: `thread_id`, `value` (one answer) or `values` (answers by interrupt id),
/// `actor` (`{"id", "roles"}` with `roles` always present, or `null`), `key_id`, `issued_at`
/// and `expires_at` (integers). Canonical JSON: UTF-8, no whitespace, object members sorted
/// by the Unicode code points of their names, strings escaped only where JSON requires it
/// (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other characters below U+0020 as `\u00xx` in
/// lower-case hex; everything else literal, `/` included), numbers as integers without sign
/// for zero, fraction or exponent. Python: `json.dumps(obj, sort_keys=True,
/// separators=(",", ":"), ensure_ascii=False)`. Answers with non-integer numbers cannot be
/// signed (send them as strings).
public enum SignedResume {
    /// The domain-separation prefix: `interlude-resume-v1\n`.
    public static let prefix = "interlude-resume-v1\n"

    /// The bytes to sign for a resume.
    /// - Throws: ``SignedResume/NonIntegerNumber`` when an answer holds a non-integer number.
    public static func canonicalBytes(
        threadID: String, value: JSONValue?, values: [String: JSONValue]?, actor: ReviewActor?, signature: ResumeSignature
    ) throws -> Data {
        var document: [String: JSONValue] = [
            "thread_id": .string(threadID), "actor": actor?.json ?? .null, "key_id": .string(signature.keyID),
            "issued_at": .number(Double(signature.issuedAt)), "expires_at": .number(Double(signature.expiresAt)),
        ]
        if let values { document["values"] = .object(values) } else { document["value"] = value ?? .null }
        var text = prefix
        try canonical(.object(document), into: &text)
        return Data(text.utf8)
    }

    /// A number the canonical form cannot write: it has a fraction or is too large.
    public struct NonIntegerNumber: Error, CustomStringConvertible {
        /// The number.
        public var number: Double
        public var description: String {
            "the answer holds the number \(number), which a signature cannot cover (only whole numbers up to 2^53 can); send it as a string"
        }
    }

    /// Appends the canonical JSON of `value`.
    static func canonical(_ value: JSONValue, into text: inout String) throws {
        switch value {
        case .null: text += "null"
        case .bool(let flag): text += flag ? "true" : "false"
        case .number(let number):
            guard number == number.rounded(), abs(number) <= 9_007_199_254_740_992 else { throw NonIntegerNumber(number: number) }
            text += String(Int64(number))
        case .string(let string): quote(string, into: &text)
        case .array(let items):
            text += "["
            for (i, item) in items.enumerated() {
                if i > 0 { text += "," }
                try canonical(item, into: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            let keys = members.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) { $0.value < $1.value } }
            for (i, key) in keys.enumerated() {
                if i > 0 { text += "," }
                quote(key, into: &text)
                text += ":"
                try canonical(members[key]!, into: &text)
            }
            text += "}"
        }
    }

    static func quote(_ string: String, into text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
