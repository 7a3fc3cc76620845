import Foundation
import Interlude
import InterludePostgres
import Testing

@Suite("PostgresConnection", .tags(.postgres), .timeLimit(.minutes(2)))
struct PostgresConnectionTests {
    static let roundTrip = PostgresStatement(
        "test.round_trip",
        sql: """
            SELECT $1::text AS t, $2::int8 AS i, $3::float8 AS d, $4::bool AS b, $5::bytea AS bytes,
                   $6::timestamptz AS ts, $7::uuid AS u, $8::jsonb AS j, $9::text AS missing, $10::int4 AS small
            """)

    @Test("A query round-trips every supported type through binary parameters and results")
    func roundTripsTypes() async throws {
        let connection = try await TestDatabase.connect()
        let date = Date(timeIntervalSince1970: 1_800_000_000.123456)
        let id = CheckpointID.next()
        let uuid = UUID()
        let bytes = Data([0, 1, 2, 255, 0x5c, 0x78])
        let rows = try await connection.query(
            Self.roundTrip,
            [.text("héllo ' \" ; DROP TABLE x"), .int64(-42), .double(3.25), .bool(true), .bytea(bytes),
             .timestamptz(date), .uuid(id), .jsonb(JSONValue.object(["a": [1, "x", .null]])), .text(nil), .int32(7)])
        #expect(rows.count == 1)
        let row = rows[0]
        #expect(try row.decode(String.self, at: 0) == "héllo ' \" ; DROP TABLE x")
        #expect(try row.decode(Int64.self, at: 1) == -42)
        #expect(try row.decode(Int.self, at: 1) == -42)
        #expect(try row.decode(Double.self, at: 2) == 3.25)
        #expect(try row.decode(Bool.self, at: 3) == true)
        #expect(try row.decode(Data.self, at: 4) == bytes)
        #expect(try row.decode(Date.self, at: 5).timeIntervalSince1970 == 1_800_000_000.123456)
        #expect(try row.decode(CheckpointID.self, at: 6) == id)
        #expect(try row.decode(String.self, at: 6) == id.description)
        #expect(try row.decode(JSONValue.self, at: 7) == JSONValue.object(["a": [1, "x", .null]]))
        #expect(try row.decode(String?.self, at: 8) == nil)
        #expect(try row.decode(Int32.self, at: 9) == 7)
        _ = uuid
        #expect(throws: PostgresError.self) { try row.decode(Int64.self, at: 0) }
        #expect(throws: PostgresError.self) { try row.decode(String.self, at: 8) }
        connection.close()
    }
}

extension PostgresConnectionTests {
    static let createScratch = PostgresStatement(
        "test.create_scratch", sql: "CREATE TABLE IF NOT EXISTS scratch (id text PRIMARY KEY, note text)")
    static let insertScratch = PostgresStatement("test.insert_scratch", sql: "INSERT INTO scratch (id, note) VALUES ($1, $2)")
    static let countScratch = PostgresStatement("test.count_scratch", sql: "SELECT count(*) FROM scratch WHERE id = $1")
    static let noteScratch = PostgresStatement("test.note_scratch", sql: "SELECT note FROM scratch WHERE id = $1")
    static let backendPID = PostgresStatement("test.backend_pid", sql: "SELECT pg_backend_pid()")
    static let terminate = PostgresStatement("test.terminate", sql: "SELECT pg_terminate_backend($1::int4)")

    /// A connection whose search_path is a fresh schema holding the `scratch` table.
    static func scratchConnection() async throws -> (PostgresConnection, String) {
        let schema = TestDatabase.freshSchema("conn")
        let setup = try await TestDatabase.connect()
        try await PostgresMigrations(schema: schema).migrate(on: setup)  // creates the schema
        setup.close()
        let connection = try await TestDatabase.connect(searchPath: [schema])
        try await connection.execute(createScratch)
        return (connection, schema)
    }

    @Test("Values that look like SQL are stored as data, because statements only take parameters")
    func parametersAreData() async throws {
        let (connection, _) = try await Self.scratchConnection()
        defer { connection.close() }
        let hostile = "x'); DROP TABLE scratch; --"
        try await connection.execute(Self.insertScratch, [.text("hostile"), .text(hostile)])
        let note = try await connection.query(Self.noteScratch, [.text("hostile")])
        #expect(try note[0].decode(String.self, at: 0) == hostile)
    }

    @Test("A transaction commits when its body returns and rolls back when it throws")
    func transactions() async throws {
        let (connection, _) = try await Self.scratchConnection()
        defer { connection.close() }
        struct Boom: Error {}
        try await connection.withTransaction { tx in
            try await tx.execute(Self.insertScratch, [.text("kept"), .null])
        }
        await #expect(throws: Boom.self) {
            try await connection.withTransaction { tx in
                try await tx.execute(Self.insertScratch, [.text("dropped"), .null])
                throw Boom()
            }
        }
        #expect(try await connection.query(Self.countScratch, [.text("kept")])[0].decode(Int.self, at: 0) == 1)
        #expect(try await connection.query(Self.countScratch, [.text("dropped")])[0].decode(Int.self, at: 0) == 0)
        // The connection is usable again after the rollback.
        try await connection.execute(Self.insertScratch, [.text("after"), .null])
    }

    @Test("A connection killed mid-transaction gives a retriable error and leaves nothing written")
    func killedMidTransaction() async throws {
        let (victim, schema) = try await Self.scratchConnection()
        let killer = try await TestDatabase.connect(searchPath: [schema])
        defer { victim.close(); killer.close() }
        let pid = try await victim.query(Self.backendPID)[0].decode(Int32.self, at: 0)
        let error = await #expect(throws: PostgresError.self) {
            try await victim.withTransaction { tx in
                try await tx.execute(Self.insertScratch, [.text("half"), .text("written")])
                try await killer.query(Self.terminate, [.int32(pid)])
                try await tx.execute(Self.insertScratch, [.text("half-2"), .null])
            }
        }
        #expect(error?.code == .connectionLost)
        #expect(error?.isRetriable == true)
        #expect(victim.isBroken)
        #expect(error.map { GraphError(.storage, "wrapped", underlying: $0).isRetriable } == true)
        #expect(try await killer.query(Self.countScratch, [.text("half")])[0].decode(Int.self, at: 0) == 0)
        await #expect(throws: PostgresError.self) { try await victim.query(Self.backendPID) }
    }

    @Test("An invalid URL is refused with a message that says what to fix")
    func invalidURL() async throws {
        for url in ["this is not a conninfo", "postgresql://user:secret@localhost/db?bogus_option=1"] {
            let error = await #expect(throws: PostgresError.self) {
                try await PostgresConnection.connect(url: url)
            }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.isRetriable == false)
            #expect(error?.description.contains("secret") == false, "the password must be masked: \(String(describing: error))")
        }
    }

    static let createRole = PostgresStatement(
        "test.create_role",
        sql: """
            DO $$ BEGIN
                CREATE ROLE interlude_password_test LOGIN PASSWORD 'correct-horse';
            EXCEPTION WHEN duplicate_object THEN NULL;
            END $$
            """)

    @Test("A wrong password is an authentication error that never shows the password")
    func wrongPassword() async throws {
        let admin = try await TestDatabase.connect()
        defer { admin.close() }
        try await admin.execute(Self.createRole)
        let right = try await PostgresConnection.connect(url: try TestDatabase.url(user: "interlude_password_test", password: "correct-horse"))
        right.close()
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(url: try TestDatabase.url(user: "interlude_password_test", password: "battery-staple"))
        }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.isRetriable == false)
        #expect(error?.description.contains("battery-staple") == false)
        #expect(error?.description.contains("***") == true)
    }

    @Test("A database that does not exist is a configuration error")
    func missingDatabase() async throws {
        let error = await #expect(throws: PostgresError.self) {
            try await PostgresConnection.connect(url: try TestDatabase.url(database: "interlude_no_such_database"))
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("does not exist") == true)
    }

    @Test("Server errors carry the SQLSTATE, the statement name and the constraint, never parameters")
    func serverErrors() async throws {
        let (connection, _) = try await Self.scratchConnection()
        defer { connection.close() }
        try await connection.execute(Self.insertScratch, [.text("once"), .text("secret-value")])
        let error = await #expect(throws: PostgresError.self) {
            try await connection.execute(Self.insertScratch, [.text("once"), .text("secret-value")])
        }
        #expect(error?.sqlState == .uniqueViolation)
        #expect(error?.statement == "test.insert_scratch")
        #expect(error?.constraint == "scratch_pkey")
        #expect(error?.isRetriable == false)
        #expect(error?.description.contains("secret-value") == false)
        #expect(error?.description.contains("once") == false)
        let cast = PostgresStatement("test.bad_cast", sql: "SELECT $1::text::int4")
        let castError = await #expect(throws: PostgresError.self) { try await connection.query(cast, [.text("secret-42x")]) }
        #expect(castError?.sqlState?.errorClass == "22")
        #expect(castError?.description.contains("secret-42x") == false)
        // Still usable.
        #expect(try await connection.query(Self.countScratch, [.text("once")])[0].decode(Int.self, at: 0) == 1)
    }
}
