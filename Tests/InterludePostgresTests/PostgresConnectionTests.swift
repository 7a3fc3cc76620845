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
             .timestamptz(date), .uuid(id), .jsonb(JSONValue.object(["a": [1, "x", nil]])), .text(nil), .int32(7)])
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
        #expect(try row.decode(JSONValue.self, at: 7) == JSONValue.object(["a": [1, "x", nil]]))
        #expect(try row.decode(String?.self, at: 8) == nil)
        #expect(try row.decode(Int32.self, at: 9) == 7)
        _ = uuid
        #expect(throws: PostgresError.self) { try row.decode(Int64.self, at: 0) }
        #expect(throws: PostgresError.self) { try row.decode(String.self, at: 8) }
        connection.close()
    }
}
