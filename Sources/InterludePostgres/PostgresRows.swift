import Foundation
import Interlude

/// The rows a statement returned, copied out of libpq (binary format).
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// Column names, in order.
    public let columns: [String]
    /// How many rows the statement inserted, updated or deleted (0 for plain queries).
    public let affectedRows: Int
    let rows: [PostgresRow]

    init(columns: [String], rows: [PostgresRow], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// The first row's index.
    public var startIndex: Int { rows.startIndex }
    /// One past the last row's index.
    public var endIndex: Int { rows.endIndex }
    /// The row at `position`.
    public subscript(position: Int) -> PostgresRow { rows[position] }
}

/// One row of a result.
public struct PostgresRow: Sendable {
    /// The cells, in column order.
    public let cells: [PostgresCell]

    /// Decodes the column at `index`.
    /// - Throws: `PostgresError` `.decodingFailed` when the column's type or value does not fit.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at index: Int) throws -> T {
        guard cells.indices.contains(index) else {
            throw PostgresError(.decodingFailed, "column \(index) does not exist (the row has \(cells.count) columns)")
        }
        return try T(postgresCell: cells[index])
    }
}

/// One value of a row, in PostgreSQL's binary format.
public struct PostgresCell: Sendable {
    /// The column's type OID.
    public let typeOID: UInt32
    /// The column name.
    public let column: String
    /// The binary value; `nil` is SQL `NULL`.
    public let bytes: Data?

    func mismatch(_ swiftType: Any.Type) -> PostgresError {
        PostgresError(.decodingFailed, "column '\(column)' of type OID \(typeOID) cannot be decoded as \(swiftType)")
    }

    func requireBytes(_ swiftType: Any.Type) throws -> Data {
        guard let bytes else {
            throw PostgresError(.decodingFailed, "column '\(column)' is NULL; decode it as \(swiftType)? to allow NULL")
        }
        return bytes
    }

    func integer(_ swiftType: Any.Type) throws -> Int64 {
        let b = try requireBytes(swiftType)
        let width: Int
        switch typeOID {
        case OID.int8: width = 8
        case OID.int4, OID.oid: width = 4
        case OID.int2: width = 2
        default: throw mismatch(swiftType)
        }
        guard b.count == width else { throw mismatch(swiftType) }
        var value: Int64 = 0
        for byte in b { value = value << 8 | Int64(byte) }
        // Sign-extend narrower integers.
        let shift = Int64(64 - width * 8)
        return (value << shift) >> shift
    }
}

/// A Swift type that can be read from a result column.
public protocol PostgresDecodable: Sendable {
    /// Decodes a cell.
    /// - Throws: `PostgresError` `.decodingFailed` when the type or value does not fit.
    init(postgresCell cell: PostgresCell) throws
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// `nil` for SQL `NULL`, otherwise the wrapped type's decoding.
    public init(postgresCell cell: PostgresCell) throws {
        self = cell.bytes == nil ? nil : try Wrapped(postgresCell: cell)
    }
}

extension String: PostgresDecodable {
    /// Decodes `text`, `varchar`, `char`, `name` and `json`/`jsonb` text.
    public init(postgresCell cell: PostgresCell) throws {
        let b = try cell.requireBytes(String.self)
        switch cell.typeOID {
        case OID.text, OID.varchar, OID.bpchar, OID.name, OID.json: self = String(decoding: b, as: UTF8.self)
        case OID.jsonb: self = String(decoding: b.dropFirst(), as: UTF8.self)
        case OID.uuid: self = try CheckpointID(postgresCell: cell).description
        default: throw cell.mismatch(String.self)
        }
    }
}

extension Int64: PostgresDecodable {
    /// Decodes `bigint`, `integer` and `smallint`.
    public init(postgresCell cell: PostgresCell) throws { self = try cell.integer(Int64.self) }
}

extension Int: PostgresDecodable {
    /// Decodes `bigint`, `integer` and `smallint`.
    public init(postgresCell cell: PostgresCell) throws { self = Int(try cell.integer(Int.self)) }
}

extension Int32: PostgresDecodable {
    /// Decodes `integer` and `smallint` (and `bigint` values that fit).
    public init(postgresCell cell: PostgresCell) throws {
        guard let value = Int32(exactly: try cell.integer(Int32.self)) else { throw cell.mismatch(Int32.self) }
        self = value
    }
}

extension Double: PostgresDecodable {
    /// Decodes `double precision` and `real`.
    public init(postgresCell cell: PostgresCell) throws {
        let b = try cell.requireBytes(Double.self)
        var bits: UInt64 = 0
        for byte in b { bits = bits << 8 | UInt64(byte) }
        switch (cell.typeOID, b.count) {
        case (OID.float8, 8): self = Double(bitPattern: bits)
        case (OID.float4, 4): self = Double(Float(bitPattern: UInt32(bits)))
        default: throw cell.mismatch(Double.self)
        }
    }
}

extension Bool: PostgresDecodable {
    /// Decodes `boolean`.
    public init(postgresCell cell: PostgresCell) throws {
        let b = try cell.requireBytes(Bool.self)
        guard cell.typeOID == OID.bool, b.count == 1 else { throw cell.mismatch(Bool.self) }
        self = b.first! != 0
    }
}

extension Data: PostgresDecodable {
    /// Decodes `bytea` as raw bytes, and `json`/`jsonb`/`text` as their UTF-8 text.
    public init(postgresCell cell: PostgresCell) throws {
        let b = try cell.requireBytes(Data.self)
        switch cell.typeOID {
        case OID.bytea, OID.json, OID.text, OID.varchar: self = Data(b)
        case OID.jsonb:
            guard b.first == 1 else { throw cell.mismatch(Data.self) }
            self = Data(b.dropFirst())
        default: throw cell.mismatch(Data.self)
        }
    }
}

extension Date: PostgresDecodable {
    /// Decodes `timestamp with time zone` and `timestamp` (taken as UTC).
    public init(postgresCell cell: PostgresCell) throws {
        guard cell.typeOID == OID.timestamptz || cell.typeOID == OID.timestamp else { throw cell.mismatch(Date.self) }
        let b = try cell.requireBytes(Date.self)
        guard b.count == 8 else { throw cell.mismatch(Date.self) }
        var value: Int64 = 0
        for byte in b { value = value << 8 | Int64(byte) }
        self = PostgresTime.date(microseconds: value)
    }
}

extension UUID: PostgresDecodable {
    /// Decodes `uuid`.
    public init(postgresCell cell: PostgresCell) throws {
        let b = try cell.requireBytes(UUID.self)
        guard cell.typeOID == OID.uuid, b.count == 16 else { throw cell.mismatch(UUID.self) }
        let u = Array(b)
        self = UUID(uuid: (u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]))
    }
}

extension CheckpointID: PostgresDecodable {
    /// Decodes `uuid`.
    public init(postgresCell cell: PostgresCell) throws {
        let b = try cell.requireBytes(CheckpointID.self)
        guard cell.typeOID == OID.uuid, b.count == 16 else { throw cell.mismatch(CheckpointID.self) }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, byte) in b.enumerated() {
            if i < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }
}

extension JSONValue: PostgresDecodable {
    /// Decodes `jsonb` and `json`.
    public init(postgresCell cell: PostgresCell) throws {
        guard cell.typeOID == OID.jsonb || cell.typeOID == OID.json else { throw cell.mismatch(JSONValue.self) }
        let data = try Data(postgresCell: cell)
        do {
            self = try JSONValue(json: data)
        } catch {
            throw PostgresError(.decodingFailed, "column '\(cell.column)' holds JSON that does not parse", underlying: error)
        }
    }
}
