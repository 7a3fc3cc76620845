import Foundation
import Interlude

/// The one error type of `InterludePostgres`.
///
/// Match on ``code``; for server errors ``sqlState`` holds the SQLSTATE. ``description``
/// names the statement but never prints its parameters, and masks passwords in URLs.
public struct PostgresError: Error, Sendable, CustomStringConvertible, RetriableError {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidConfiguration, connectionFailed, authenticationFailed, connectionLost
            case server, unexpectedResult, decodingFailed, schemaMissing, schemaTooNew
            case schemaOutdated, migrationFailed, poolClosed, timedOut
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The URL, conninfo or another setting is not valid; fix the configuration.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// No connection could be opened (server down, wrong host or port, too many clients).
        public static let connectionFailed = Code(.connectionFailed)
        /// The server refused the user name or password.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The connection broke while a statement ran; a transaction in progress was rolled back.
        public static let connectionLost = Code(.connectionLost)
        /// The server reported an error for a statement; see ``PostgresError/sqlState``.
        public static let server = Code(.server)
        /// The server answered with something the statement did not expect.
        public static let unexpectedResult = Code(.unexpectedResult)
        /// A column could not be decoded as the requested Swift type.
        public static let decodingFailed = Code(.decodingFailed)
        /// The Interlude tables are not in the database; run the migrations.
        public static let schemaMissing = Code(.schemaMissing)
        /// The database schema is newer than this build knows; upgrade the code.
        public static let schemaTooNew = Code(.schemaTooNew)
        /// The database schema is older than this build needs; run the migrations.
        public static let schemaOutdated = Code(.schemaOutdated)
        /// A migration failed and was rolled back.
        public static let migrationFailed = Code(.migrationFailed)
        /// The pool was closed.
        public static let poolClosed = Code(.poolClosed)
        /// A limit passed: the server cancelled a statement at its statement timeout, the server
        /// did not answer within the client's query deadline (the connection is discarded), or
        /// no pooled connection became free within the acquire timeout. Retriable.
        public static let timedOut = Code(.timedOut)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The SQLSTATE the server reported, if any.
    public var sqlState: SQLState?
    /// The name of the statement that failed, if a statement failed. Never its parameters.
    public var statement: String?
    /// The constraint a statement violated, if the server named one.
    public var constraint: String?
    /// What was wrong and what to do. Never contains parameters or passwords.
    public var message: String
    /// The error that caused this one, if any.
    public var underlying: (any Error)?
    /// The source file that raised the error.
    public var file: String
    /// The source line that raised the error.
    public var line: Int

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, sqlState: SQLState? = nil, statement: String? = nil,
        constraint: String? = nil, underlying: (any Error)? = nil, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.statement = statement
        self.constraint = constraint
        self.underlying = underlying
        self.file = file
        self.line = line
    }

    /// `true` when the same operation may succeed if tried again: serialization failures,
    /// deadlocks, lost or refused connections, timeouts, and a server shutting down or starting up.
    public var isRetriable: Bool {
        if code == .connectionLost || code == .connectionFailed || code == .timedOut { return true }
        guard let sqlState else { return false }
        return sqlState.isRetriable
    }

    public var description: String {
        var text = "PostgresError.\(code)"
        if let sqlState { text += " [\(sqlState)]" }
        if let statement { text += " in statement '\(statement)'" }
        text += ": \(message)"
        if let constraint { text += " (constraint \(constraint))" }
        if let underlying { text += " (underlying: \(underlying))" }
        return text
    }
}

/// A SQLSTATE error code, such as `40001` (serialization failure) or `23505` (unique violation).
public struct SQLState: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The five-character code.
    public let code: String

    /// Creates a SQLSTATE from its five-character code.
    public init(_ code: String) { self.code = code }

    /// Creates a SQLSTATE from a literal such as `"40001"`.
    public init(stringLiteral value: String) { self.code = value }

    /// The two-character class (`"08"` for connection exceptions).
    public var errorClass: String { String(code.prefix(2)) }

    /// `40001`: the transaction could not be serialized; retry it.
    public static let serializationFailure: SQLState = "40001"
    /// `40P01`: a deadlock was detected; retry the transaction.
    public static let deadlockDetected: SQLState = "40P01"
    /// `23505`: a unique constraint was violated.
    public static let uniqueViolation: SQLState = "23505"
    /// `42P01`: a table does not exist.
    public static let undefinedTable: SQLState = "42P01"
    /// `3F000`: a schema does not exist.
    public static let invalidSchemaName: SQLState = "3F000"
    /// `57P01`: the server is shutting down (or an administrator ended the session).
    public static let adminShutdown: SQLState = "57P01"
    /// `57P02`: the server crashed and is restarting.
    public static let crashShutdown: SQLState = "57P02"
    /// `57P03`: the server is starting up and cannot accept connections yet.
    public static let cannotConnectNow: SQLState = "57P03"
    /// `57014`: the statement was cancelled (statement timeout or a cancel request).
    public static let queryCanceled: SQLState = "57014"
    /// `28P01`: the password was wrong.
    public static let invalidPassword: SQLState = "28P01"

    /// `true` for SQLSTATEs after which retrying may succeed.
    public var isRetriable: Bool {
        errorClass == "08" || self == .serializationFailure || self == .deadlockDetected
            || self == .adminShutdown || self == .crashShutdown || self == .cannotConnectNow
    }

    /// `true` for classes whose server messages may quote parameter values (22: data
    /// exceptions), so they are withheld from descriptions.
    var messageMayQuoteValues: Bool { errorClass == "22" }

    public var description: String { code }
}

/// Masks the password in a `postgres://` URL or a `key=value` conninfo, for logs and errors.
func maskingPassword(_ url: String) -> String {
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
        guard let schemeEnd = url.range(of: "://"), let at = url.range(of: "@", options: .backwards),
            at.lowerBound > schemeEnd.upperBound
        else { return url }
        let userInfo = url[schemeEnd.upperBound..<at.lowerBound]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at.lowerBound...])
    }
    // conninfo: password=secret or password='sec ret'
    var parts: [String] = []
    var rest = Substring(url)
    while let range = rest.range(of: "password") {
        parts.append(String(rest[..<range.upperBound]))
        rest = rest[range.upperBound...]
        let afterSpaces = rest.drop(while: { $0 == " " })
        guard afterSpaces.first == "=" else { continue }
        var value = afterSpaces.dropFirst().drop(while: { $0 == " " })
        if value.first == "'" {
            value = value.dropFirst()
            while let c = value.first, c != "'" { value = value.dropFirst(c == "\\" ? 2 : 1) }
            value = value.dropFirst()
        } else {
            value = value.drop(while: { $0 != " " })
        }
        parts.append("=***")
        rest = value
    }
    parts.append(String(rest))
    return parts.joined()
}
