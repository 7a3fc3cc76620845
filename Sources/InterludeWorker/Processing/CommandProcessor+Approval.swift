import Crypto
import Foundation
import Interlude

/// Signed answers: whether a worker requires them, and the Ed25519 public keys it accepts,
/// by key id (several at once, so keys can rotate).
public struct ResumeSigning: Sendable {
    /// Refuse resumes without a signature (`signature_required`). Default: false.
    public var required: Bool
    /// How far in the future `issued_at` may be (clock skew between signer and worker).
    /// Default: 300 seconds.
    public var allowedSkew: Int64 = 300
    /// Raw 32-byte Ed25519 public keys by key id.
    public private(set) var keys: [String: Data]

    /// No signatures required, no keys. A signed resume is still verified, and fails with
    /// `unknown_key`.
    public init() {
        required = false
        keys = [:]
    }

    /// A policy with a key set.
    /// - Throws: ``WorkerError`` `.invalidConfiguration` when a key is not 32 bytes, or when
    ///   signatures are required and there is no key.
    public init(required: Bool, keys: [String: Data]) throws {
        for (id, key) in keys where (try? Curve25519.Signing.PublicKey(rawRepresentation: key)) == nil {
            throw WorkerError(.invalidConfiguration, "the resume signing key '\(id)' is \(key.count) bytes; an Ed25519 public key is 32 raw bytes (base64 in the key set)")
        }
        if required, keys.isEmpty {
            throw WorkerError(.invalidConfiguration, "signed resumes are required but the key set is empty; give at least one Ed25519 public key by id")
        }
        self.required = required
        self.keys = keys
    }

    /// Reads a key set: a JSON object of key id -> base64 raw 32-byte Ed25519 public key,
    /// `{"review-2026-12": "MCowBQ..."}`.
    /// - Throws: ``WorkerError`` `.invalidConfiguration` saying what is wrong; `source` names
    ///   where the text came from.
    public static func keySet(json data: Data, source: String) throws -> [String: Data] {
        guard let object = (try? JSONValue(json: data))?.objectValue else {
            throw WorkerError(.invalidConfiguration, "\(source) is not a JSON object of key id -> base64 Ed25519 public key")
        }
        var keys: [String: Data] = [:]
        for (id, value) in object {
            guard let text = value.stringValue, let key = Data(base64Encoded: text) else {
                throw WorkerError(.invalidConfiguration, "\(source): key '\(id)' is not a base64 string")
            }
            keys[id] = key
        }
        return keys
    }
}

/// Why a resume is refused before the graph sees it.
struct ResumeRefusal: Error {
    var code: String
    var message: String
    init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension CommandProcessor {
    /// Checks a resume's signature: missing (when required), unknown key, bad, expired or
    /// already used by another command. Returns the refusal, or `nil` when it may apply.
    func signatureRefusal(_ command: CommandMessage) async throws -> ResumeRefusal? {
        guard case .resume(let value, let values, _) = command.body else { return nil }
        let signing = configuration.signing
        let thread = command.threadID
        guard let signature = command.signature else {
            guard signing.required else { return nil }
            return ResumeRefusal("signature_required", "this worker accepts only signed resumes; sign the resume of thread '\(thread)' with a key of the worker's key set (docs/message-contracts.md, signed answers)")
        }
        guard let raw = signing.keys[signature.keyID], let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            let known = signing.keys.keys.sorted()
            return ResumeRefusal("unknown_key", "the resume is signed with key '\(signature.keyID)', which this worker does not know; known keys: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
        }
        guard let bytes = Data(base64Encoded: signature.signature), bytes.count == 64 else {
            return ResumeRefusal("bad_signature", "the signature of the resume of thread '\(thread)' is not the base64 of 64 bytes")
        }
        let signed: Data
        do { signed = try SignedResume.canonicalBytes(threadID: thread, value: value, values: values, actor: command.actor, signature: signature) } catch {
            return ResumeRefusal("bad_signature", "the resume of thread '\(thread)' cannot be verified: \(error)")
        }
        guard key.isValidSignature(bytes, for: signed) else {
            return ResumeRefusal("bad_signature", "the signature of the resume of thread '\(thread)' does not match its thread, answers, actor, times and key '\(signature.keyID)'; sign exactly what is sent")
        }
        let now = Int64(clock.now.timeIntervalSince1970.rounded(.down))
        guard signature.expiresAt > now else {
            return ResumeRefusal("signature_expired", "the signature of the resume of thread '\(thread)' expired at \(signature.expiresAt) (now \(now), seconds since 1970); sign the answer again")
        }
        guard signature.issuedAt <= now + signing.allowedSkew, signature.issuedAt < signature.expiresAt else {
            return ResumeRefusal("bad_signature", "the signature of the resume of thread '\(thread)' is issued at \(signature.issuedAt), after its expiry or more than \(signing.allowedSkew) s ahead of the worker's clock (\(now))")
        }
        if let first = try await store.command(Self.signatureLedgerID(signed)), first.outcome != command.id {
            return ResumeRefusal("signature_replayed", "this signed answer was already used by command '\(first.outcome ?? "?")'; a signature applies once: sign a new answer with a new issued_at")
        }
        return nil
    }

    /// The ledger entry that marks a signed answer as used: `signature:` and the SHA-256 of
    /// the signed bytes, in hex.
    static func signatureLedgerID(_ signed: Data) -> String {
        "signature:" + SHA256.hash(data: signed).map { String(format: "%02x", $0) }.joined()
    }

    /// `true` for a command the batch must leave to the full path, which checks signatures.
    func needsSignatureCheck(_ command: CommandMessage) -> Bool {
        guard case .resume = command.body else { return false }
        return command.signature != nil || configuration.signing.required
    }

    /// The ledger entry a signed resume's first commit adds, so the same signed answer under
    /// another command id is refused `signature_replayed` (and a concurrent one loses its commit).
    static func signatureUse(_ command: CommandRef, first: Bool) -> [CommandRecord] {
        guard first, let key = command.signatureKey else { return [] }
        return [CommandRecord(commandID: key, threadID: command.threadID, kind: "signature", status: .applied, outcome: command.id)]
    }
}

extension CommandMessage {
    /// The ledger id of this resume's signed bytes, when it is signed and can be verified.
    var signatureKey: String? {
        guard let signature, case .resume(let value, let values, _) = body,
            let signed = try? SignedResume.canonicalBytes(threadID: threadID, value: value, values: values, actor: actor, signature: signature)
        else { return nil }
        return CommandProcessor.signatureLedgerID(signed)
    }
}
