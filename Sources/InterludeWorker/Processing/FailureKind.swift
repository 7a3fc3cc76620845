import Foundation
import Interlude
import InterludeKafka
import InterludePostgres

/// How the worker treats a failure to process a command: retry it until it works, or give it
/// a bounded number of attempts and then dead-letter it so its partition moves on.
public enum FailureKind: Sendable, Equatable {
    /// Not the message's fault (a database or broker outage, a serialization failure, a
    /// shutdown): retried with backoff for as long as it lasts; the worker reports not-ready.
    case transient(String)
    /// The message can never be processed as it is (PostgreSQL refuses its data for good, a
    /// decoding failure): dead-lettered with this reason code after a few attempts.
    case permanent(code: String, detail: String)

    /// Classifies an error thrown while processing a command.
    public static func of(_ error: any Error) -> FailureKind {
        switch error {
        case is CancellationError:
            return .transient("cancelled")
        case let error as KafkaError:
            return .transient("Kafka: \(error)")
        case let error as PostgresError:
            return of(error)
        case let error as GraphError:
            if let postgres = error.underlying as? PostgresError { return of(postgres) }
            if error.code == .storage { return .transient("storage: \(error.message)") }
            return .permanent(code: "processing_failed", detail: "\(error.code): \(error.message)")
        default:
            return .permanent(code: "processing_failed", detail: "\(error)")
        }
    }

    /// PostgreSQL: data (22), integrity (23) and program-limit (54) errors, and other refusals
    /// of a statement, are the data's fault; connection, resource, shutdown and
    /// configuration problems are the deployment's, and retried.
    private static func of(_ error: PostgresError) -> FailureKind {
        if error.isRetriable { return .transient("PostgreSQL: \(error.message)") }
        guard error.code == .server, let state = error.sqlState else {
            // Connection, authentication, schema and pool problems: an operator fixes them.
            return .transient("PostgreSQL: \(error.message)")
        }
        switch state.errorClass {
        case "22", "23", "54", "42", "XX":
            return .permanent(code: "storage_rejected", detail: "PostgreSQL refused the command's data (SQLSTATE \(state.code)): \(error.message)")
        default:
            // 53 insufficient resources, 55 object state, 57 operator intervention, ...
            return .transient("PostgreSQL (SQLSTATE \(state.code)): \(error.message)")
        }
    }
}
