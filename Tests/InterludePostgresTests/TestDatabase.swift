import Foundation
import Interlude
import InterludePostgres
import Logging
import Testing

extension Tag {
    /// Tests that need a PostgreSQL server.
    @Tag static var postgres: Self
}

/// The test server started by `scripts/with-test-postgres.sh`.
enum TestDatabase {
    struct NotConfigured: Error, CustomStringConvertible {
        var description: String {
            "INTERLUDE_TEST_DATABASE_URL is not set: run the PostgreSQL tests through `make test` or `scripts/with-test-postgres.sh swift test --disable-xctest`, which start a throwaway server"
        }
    }

    /// The server's URL (superuser).
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["INTERLUDE_TEST_DATABASE_URL"], !url.isEmpty else {
            throw NotConfigured()
        }
        return url
    }

    /// A schema name no other suite or run uses.
    static func freshSchema(_ prefix: String) -> String {
        "t_\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }

    static let logger = Logger(label: "interlude.postgres.tests")

    static func connect(searchPath: [String]? = nil) async throws -> PostgresConnection {
        try await PostgresConnection.connect(url: try url(), searchPath: searchPath, logger: logger)
    }

    /// The URL with the user and password replaced (for authentication tests).
    static func url(user: String, password: String) throws -> String {
        let url = try url()
        guard let at = url.range(of: "@", options: .backwards) else { throw NotConfigured() }
        return "postgres://\(user):\(password)@" + url[at.upperBound...]
    }

    /// The same server, another database.
    static func url(database: String) throws -> String {
        let url = try url()
        guard let slash = url.range(of: "/", options: .backwards) else { throw NotConfigured() }
        return String(url[..<slash.upperBound]) + database
    }
}
