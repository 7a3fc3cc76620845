import Foundation
import InterludeWorker

extension ResumeSigning {
    /// Reads signed-answer settings from the environment (docs/configuration.md):
    /// `INTERLUDE_REQUIRE_SIGNED_RESUMES` (true/false, default false), `INTERLUDE_RESUME_KEYS`
    /// (a JSON object of key id -> base64 Ed25519 public key) and `INTERLUDE_RESUME_KEYS_FILE`
    /// (a file holding such an object). Keys from both are used; one id in both is an error.
    /// - Throws: ``WorkerError`` `.invalidConfiguration` saying which variable is wrong.
    init(environment: [String: String]) throws {
        let flag = environment["INTERLUDE_REQUIRE_SIGNED_RESUMES"]?.lowercased() ?? ""
        let required: Bool
        switch flag {
        case "", "0", "false", "no", "off": required = false
        case "1", "true", "yes", "on": required = true
        default: throw WorkerError(.invalidConfiguration, "INTERLUDE_REQUIRE_SIGNED_RESUMES=\(flag) is not a boolean (true or false)")
        }
        var keys: [String: Data] = [:]
        if let text = environment["INTERLUDE_RESUME_KEYS"], !text.isEmpty {
            keys = try ResumeSigning.keySet(json: Data(text.utf8), source: "INTERLUDE_RESUME_KEYS")
        }
        if let path = environment["INTERLUDE_RESUME_KEYS_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw WorkerError(.invalidConfiguration, "INTERLUDE_RESUME_KEYS_FILE=\(path) cannot be read; give the path of a JSON file of key id -> base64 Ed25519 public key")
            }
            for (id, key) in try ResumeSigning.keySet(json: data, source: "INTERLUDE_RESUME_KEYS_FILE (\(path))") {
                guard keys[id] == nil else {
                    throw WorkerError(.invalidConfiguration, "key id '\(id)' is in both INTERLUDE_RESUME_KEYS and INTERLUDE_RESUME_KEYS_FILE; give each key once")
                }
                keys[id] = key
            }
        }
        try self.init(required: required, keys: keys)
    }
}
