import Crypto
import Foundation
import Interlude

/// Signs resumes with an Ed25519 private key, for Swift review apps, the CLI and tests (the
/// Python client has its own, `interlude_review.signing`). Both produce
/// ``SignedResume/canonicalBytes(threadID:value:values:actor:signature:)``.
public struct ResumeSigner: Sendable {
    /// The raw 32-byte seed (Crypto's key type is not Sendable; it is rebuilt per signature).
    private let seed: Data
    /// The key's id in the workers' key set.
    public let keyID: String

    /// A signer from the raw 32-byte private key (seed).
    /// - Throws: ``WorkerError`` `.invalidConfiguration` when the key is not 32 bytes.
    public init(privateKey raw: Data, keyID: String) throws {
        guard (try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)) != nil else {
            throw WorkerError(.invalidConfiguration, "the resume signing key '\(keyID)' is \(raw.count) bytes; an Ed25519 private key is 32 raw bytes")
        }
        seed = raw
        self.keyID = keyID
    }

    /// The raw 32-byte public key, for the workers' key set.
    public var publicKey: Data { privateKey.publicKey.rawRepresentation }

    private var privateKey: Curve25519.Signing.PrivateKey {
        // The seed was checked in init.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// `command` (a resume) with a signature over its thread, answers and actor.
    /// - Parameters:
    ///   - issuedAt: Seconds since 1970. Default: now.
    ///   - lifetime: Seconds until it expires. Default: 300.
    /// - Throws: ``SignedResume/NonIntegerNumber`` when an answer holds a non-integer number;
    ///   ``WorkerError`` `.invalidConfiguration` when `command` is not a resume.
    public func sign(_ command: CommandMessage, issuedAt: Int64 = Int64(Date().timeIntervalSince1970), lifetime: Int64 = 300) throws -> CommandMessage {
        guard case .resume(let value, let values, _) = command.body else {
            throw WorkerError(.invalidConfiguration, "only resume commands are signed; '\(command.id)' is a \(command.type)")
        }
        var signature = ResumeSignature(keyID: keyID, issuedAt: issuedAt, expiresAt: issuedAt + lifetime, signature: "")
        let bytes = try SignedResume.canonicalBytes(threadID: command.threadID, value: value, values: values, actor: command.actor, signature: signature)
        signature.signature = try privateKey.signature(for: bytes).base64EncodedString()
        var signed = command
        signed.signature = signature
        return signed
    }
}
