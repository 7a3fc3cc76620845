import Foundation
import Logging

/// Creates and upgrades the Interlude tables in one schema.
///
/// Migrations are the numbered files in `schemas/postgres/` (embedded in the library), applied
/// in order, each in its own transaction, and recorded in the schema's `schema_migrations`
/// table. ``migrate(on:)`` holds a PostgreSQL advisory lock for the schema while it works, so
/// any number of workers may start at once: one applies, the others wait and find nothing
/// left to do. A database whose schema is newer than this build is refused.
public struct PostgresMigrations: Sendable {
    /// One numbered migration.
    public struct Migration: Sendable, Equatable {
        /// The version the schema has after this migration (the file's number).
        public let version: Int
        /// The name part of the file name.
        public let name: String
        /// The SQL, exactly as in the file but for the file's final newline.
        public let sql: String

        /// The file name in `schemas/postgres/`, such as `0001_init.sql`.
        public var fileName: String {
            let number = String(version)
            return String(repeating: "0", count: max(0, 4 - number.count)) + number + "_\(name).sql"
        }
    }

    /// The newest schema version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// The schema the tables live in.
    public let schema: String
    private let logger: Logger

    /// Creates a migrator for one schema.
    /// - Parameters:
    ///   - schema: The schema name, `^[a-z_][a-z0-9_]*$`. Default: `interlude`.
    ///   - logger: Reports applied migrations. Default: label `interlude.postgres`.
    /// - Throws: `PostgresError` `.invalidConfiguration` for an invalid schema name.
    public init(schema: String = "interlude", logger: Logger = Logger(label: "interlude.postgres")) throws {
        try PostgresIdentifier.validate(schema)
        self.schema = schema
        self.logger = logger
    }

    /// Applies every migration the schema lacks and returns the versions applied.
    /// - Throws: `PostgresError` `.schemaTooNew` when the database is newer than this build,
    ///   `.migrationFailed` when a migration fails (it is rolled back), or connection errors.
    @discardableResult
    public func migrate(on pool: PostgresPool) async throws -> [Int] {
        try await pool.withConnection { connection in
            try await migrate(on: connection)
        }
    }

    /// Applies every migration the schema lacks on one connection; see ``migrate(on:)-(PostgresPool)``.
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> [Int] {
        let key = PostgresValue.int64(lockKey)
        try await connection.query(Self.lock, [key])
        do {
            let applied = try await migrateLocked(on: connection)
            try await connection.query(Self.unlock, [key])
            return applied
        } catch {
            if !connection.isBroken { _ = try? await connection.query(Self.unlock, [key]) }
            throw error
        }
    }

    private func migrateLocked(on connection: PostgresConnection) async throws -> [Int] {
        // The one statement built from text: a validated, quoted identifier, never a value.
        try await connection.script(
            "CREATE SCHEMA IF NOT EXISTS \(try PostgresIdentifier.quoted(schema))", name: "migrations.create_schema")
        let current = try await inSchema(connection) { connection in
            try await connection.script(Self.createTable, name: "migrations.create_table")
            return try await connection.query(Self.currentVersion)[0].decode(Int.self, at: 0)
        }
        try checkNotNewer(current)
        var applied: [Int] = []
        for migration in Self.all where migration.version > current {
            do {
                try await inSchema(connection) { connection in
                    try await connection.script(migration.sql, name: "migration \(migration.fileName)")
                    try await connection.query(
                        Self.record, [.int(migration.version), .text(migration.name), .text(checksum(migration.sql))])
                }
            } catch let error as PostgresError where error.code != .connectionLost {
                throw PostgresError(
                    .migrationFailed,
                    "migration \(migration.fileName) failed in schema '\(schema)' and was rolled back: \(error.message)",
                    sqlState: error.sqlState, statement: error.statement, underlying: error)
            }
            logger.info("applied PostgreSQL migration \(migration.fileName) to schema '\(schema)'")
            applied.append(migration.version)
        }
        return applied
    }

    /// The schema's version: `nil` when the schema or its migrations table does not exist.
    public func currentVersion(on pool: PostgresPool) async throws -> Int? {
        try await pool.withConnection { connection in
            try await inSchema(connection) { connection -> Int? in
                let exists = try await connection.query(Self.tableExists)[0].decode(Bool.self, at: 0)
                guard exists else { return nil }
                return try await connection.query(Self.currentVersion)[0].decode(Int.self, at: 0)
            }
        }
    }

    /// Checks that the schema is exactly at ``latestVersion``.
    /// - Throws: `PostgresError` `.schemaMissing` (run the migrations), `.schemaOutdated`
    ///   (run the migrations) or `.schemaTooNew` (upgrade the code).
    public func verify(on pool: PostgresPool) async throws {
        guard let version = try await currentVersion(on: pool), version > 0 else {
            throw PostgresError(
                .schemaMissing,
                "the database has no Interlude tables in schema '\(schema)'; run migrate() or `interlude migrate` first")
        }
        try checkNotNewer(version)
        if version < Self.latestVersion {
            throw PostgresError(
                .schemaOutdated,
                "schema '\(schema)' is at version \(version) but this build needs \(Self.latestVersion); run migrate() or `interlude migrate`")
        }
    }

    private func checkNotNewer(_ version: Int) throws {
        if version > Self.latestVersion {
            throw PostgresError(
                .schemaTooNew,
                "schema '\(schema)' is at version \(version), newer than this build knows (\(Self.latestVersion)); run a newer Interlude build, never an older one, against this database")
        }
    }

    /// Runs `body` in a transaction whose `search_path` is the schema.
    private func inSchema<T: Sendable>(_ connection: PostgresConnection, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let path = try PostgresIdentifier.searchPath([schema])
        return try await connection.withTransaction { connection in
            try await connection.query(Self.setLocalSearchPath, [.text(path)])
            return try await body(connection)
        }
    }

    /// A stable 64-bit key for the schema's advisory lock (FNV-1a; `hashValue` is seeded per process).
    package var lockKey: Int64 { Int64(bitPattern: fnv1a("interlude.migrate.\(schema)")) }

    private func checksum(_ sql: String) -> String { String(fnv1a(sql), radix: 16) }

    private func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    private static let lock = PostgresStatement("migrations.lock", sql: "SELECT pg_advisory_lock($1)")
    private static let unlock = PostgresStatement("migrations.unlock", sql: "SELECT pg_advisory_unlock($1)")
    private static let setLocalSearchPath = PostgresStatement(
        "migrations.search_path", sql: "SELECT set_config('search_path', $1, true)")
    private static let createTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    private static let tableExists = PostgresStatement(
        "migrations.table_exists", sql: "SELECT to_regclass('schema_migrations') IS NOT NULL")
    private static let currentVersion = PostgresStatement(
        "migrations.current_version", sql: "SELECT COALESCE(max(version), 0)::int8 FROM schema_migrations")
    private static let record = PostgresStatement(
        "migrations.record", sql: "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int4, $2, $3)")
}
