/// The one error type of `InterludeWorker`: worker set-up and configuration mistakes.
///
/// Match on ``code``; new codes may be added without breaking callers. Errors a command causes
/// never surface as this type: they become `rejected` events or dead letters.
public struct WorkerError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case duplicateGraph, invalidConfiguration
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Two graphs were registered under one name.
        public static let duplicateGraph = Code(.duplicateGraph)
        /// A configuration value (usually from the environment) is not valid.
        public static let invalidConfiguration = Code(.invalidConfiguration)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong and what to do.
    public var message: String
    /// The source file that raised the error.
    public var file: String
    /// The source line that raised the error.
    public var line: Int

    /// Creates an error.
    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// Set-up mistakes are never fixed by trying again.
    public var isRetriable: Bool { false }

    public var description: String { "\(message) [\(code)]" }
}
