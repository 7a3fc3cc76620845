import Foundation
import Interlude

/// One statement parameter, sent to the server in binary with its type.
///
/// Make values with the static factories (`.text("a")`, `.int64(1)`, `.jsonb(data)`, ...);
/// each takes an optional, so `nil` becomes a typed SQL `NULL`. Parameters are always sent
/// separately from the SQL text: there is no way to splice a value into a statement.
public struct PostgresValue: Sendable, Equatable {
    /// The PostgreSQL type OID (0 lets the server infer it).
    let oid: UInt32
    /// Binary representation; `nil` is SQL `NULL`.
    let bytes: [UInt8]?

    init(oid: UInt32, bytes: [UInt8]?) {
        self.oid = oid
        self.bytes = bytes
    }

    /// SQL `NULL` with a type the server infers from the statement.
    public static let null = PostgresValue(oid: 0, bytes: nil)

    /// A `text` value.
    public static func text(_ value: String?) -> PostgresValue {
        PostgresValue(oid: OID.text, bytes: value.map { Array($0.utf8) })
    }

    /// A `bigint` (`int8`) value.
    public static func int64(_ value: Int64?) -> PostgresValue {
        PostgresValue(oid: OID.int8, bytes: value.map(BinaryWriter.int64))
    }

    /// A `bigint` (`int8`) value from an `Int`.
    public static func int(_ value: Int?) -> PostgresValue { .int64(value.map(Int64.init)) }

    /// An `integer` (`int4`) value.
    public static func int32(_ value: Int32?) -> PostgresValue {
        PostgresValue(oid: OID.int4, bytes: value.map(BinaryWriter.int32))
    }

    /// A `double precision` (`float8`) value.
    public static func double(_ value: Double?) -> PostgresValue {
        PostgresValue(oid: OID.float8, bytes: value.map { BinaryWriter.int64(Int64(bitPattern: $0.bitPattern)) })
    }

    /// A `boolean` value.
    public static func bool(_ value: Bool?) -> PostgresValue {
        PostgresValue(oid: OID.bool, bytes: value.map { [$0 ? 1 : 0] })
    }

    /// A `bytea` value (raw bytes, no escaping).
    public static func bytea(_ value: Data?) -> PostgresValue {
        PostgresValue(oid: OID.bytea, bytes: value.map { Array($0) })
    }

    /// A `jsonb` value from JSON text bytes (not validated here; the server rejects bad JSON).
    public static func jsonb(_ value: Data?) -> PostgresValue {
        PostgresValue(oid: OID.jsonb, bytes: value.map { [1] + Array($0) })
    }

    /// A `jsonb` value.
    public static func jsonb(_ value: JSONValue?) -> PostgresValue { .jsonb(value?.jsonData) }

    /// A `timestamp with time zone` value (microsecond precision; finer parts are rounded).
    public static func timestamptz(_ value: Date?) -> PostgresValue {
        PostgresValue(oid: OID.timestamptz, bytes: value.map { BinaryWriter.int64(PostgresTime.microseconds($0)) })
    }

    /// A `uuid` value.
    public static func uuid(_ value: UUID?) -> PostgresValue {
        PostgresValue(oid: OID.uuid, bytes: value.map { u in withUnsafeBytes(of: u.uuid) { Array($0) } })
    }

    /// A `uuid` value from a checkpoint id.
    public static func uuid(_ value: CheckpointID?) -> PostgresValue {
        PostgresValue(oid: OID.uuid, bytes: value.map { BinaryWriter.int64(Int64(bitPattern: $0.high)) + BinaryWriter.int64(Int64(bitPattern: $0.low)) })
    }

    /// A one-dimensional array of `text`, for `unnest($1::text[])` and `= ANY($1)`.
    public static func textArray(_ values: [String?]) -> PostgresValue {
        array(values, element: OID.text) { value, bytes in bytes.append(contentsOf: value.utf8) }
    }
    /// A one-dimensional array of `bigint`.
    public static func int64Array(_ values: [Int64?]) -> PostgresValue {
        array(values, element: OID.int8) { value, bytes in BinaryWriter.append(value, to: &bytes) }
    }
    /// A one-dimensional array of `integer`.
    public static func int32Array(_ values: [Int32?]) -> PostgresValue {
        array(values, element: OID.int4) { value, bytes in BinaryWriter.append(value, to: &bytes) }
    }
    /// A one-dimensional array of `double precision`.
    public static func doubleArray(_ values: [Double?]) -> PostgresValue {
        array(values, element: OID.float8) { value, bytes in BinaryWriter.append(Int64(bitPattern: value.bitPattern), to: &bytes) }
    }
    /// A one-dimensional array of `bytea`.
    public static func byteaArray(_ values: [Data?]) -> PostgresValue {
        array(values, element: OID.bytea) { value, bytes in bytes.append(contentsOf: value) }
    }
    /// A one-dimensional array of `jsonb` (each element JSON text bytes).
    public static func jsonbArray(_ values: [Data?]) -> PostgresValue {
        array(values, element: OID.jsonb) { value, bytes in
            bytes.append(1)
            bytes.append(contentsOf: value)
        }
    }
    /// A one-dimensional array of `uuid`.
    public static func uuidArray(_ values: [CheckpointID?]) -> PostgresValue {
        array(values, element: OID.uuid) { value, bytes in
            BinaryWriter.append(Int64(bitPattern: value.high), to: &bytes)
            BinaryWriter.append(Int64(bitPattern: value.low), to: &bytes)
        }
    }

    /// The binary array format: dimensions, null flag, element type, then each element
    /// with its length (-1 for `NULL`). Elements are written straight into the one buffer
    /// (`encode` appends an element's bytes), not built as values of their own first: a batch
    /// commit sends thousands of elements.
    private static func array<T>(_ values: [T?], element: UInt32, _ encode: (T, inout [UInt8]) -> Void) -> PostgresValue {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + values.count * 16)
        let hasNulls = values.contains { $0 == nil }
        BinaryWriter.append(Int32(values.isEmpty ? 0 : 1), to: &bytes)
        BinaryWriter.append(Int32(hasNulls ? 1 : 0), to: &bytes)
        BinaryWriter.append(Int32(bitPattern: element), to: &bytes)
        if !values.isEmpty {
            BinaryWriter.append(Int32(values.count), to: &bytes)
            BinaryWriter.append(Int32(1), to: &bytes)
            for value in values {
                guard let value else {
                    BinaryWriter.append(Int32(-1), to: &bytes)
                    continue
                }
                // The length goes before the element; it is known once the element is written.
                let lengthAt = bytes.count
                BinaryWriter.append(Int32(0), to: &bytes)
                encode(value, &bytes)
                let length = Int32(bytes.count - lengthAt - 4).bigEndian
                withUnsafeBytes(of: length) { raw in
                    for i in 0..<4 { bytes[lengthAt + i] = raw[i] }
                }
            }
        }
        return PostgresValue(oid: OID.arrayType(of: element), bytes: bytes)
    }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral
{
    /// A `text` literal.
    public init(stringLiteral value: String) { self = .text(value) }
    /// A `bigint` literal.
    public init(integerLiteral value: Int64) { self = .int64(value) }
    /// A `boolean` literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A `double precision` literal.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `NULL`.
    public init(nilLiteral: ()) { self = .null }
}

/// PostgreSQL type OIDs this library sends and decodes.
enum OID {
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let name: UInt32 = 19
    static let int8: UInt32 = 20
    static let int2: UInt32 = 21
    static let int4: UInt32 = 23
    static let text: UInt32 = 25
    static let oid: UInt32 = 26
    static let json: UInt32 = 114
    static let float4: UInt32 = 700
    static let float8: UInt32 = 701
    static let bpchar: UInt32 = 1042
    static let varchar: UInt32 = 1043
    static let timestamp: UInt32 = 1114
    static let timestamptz: UInt32 = 1184
    static let uuid: UInt32 = 2950
    static let jsonb: UInt32 = 3802

    static func arrayType(of element: UInt32) -> UInt32 {
        switch element {
        case bool: 1000
        case bytea: 1001
        case int4: 1007
        case text: 1009
        case int8: 1016
        case float8: 1022
        case timestamptz: 1185
        case uuid: 2951
        case jsonb: 3807
        default: 0
        }
    }
}

/// Big-endian integer encoding for the binary wire format.
enum BinaryWriter {
    static func int64(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    static func int32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

    /// Appends `v` big-endian to `bytes`.
    static func append<T: FixedWidthInteger>(_ v: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Conversions between `Date` and PostgreSQL's microseconds since 2000-01-01 UTC.
enum PostgresTime {
    /// Seconds from 1970-01-01 to 2000-01-01.
    static let epochOffset: Double = 946_684_800

    static func microseconds(_ date: Date) -> Int64 {
        Int64(((date.timeIntervalSince1970 - epochOffset) * 1_000_000).rounded())
    }

    static func date(microseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(microseconds) / 1_000_000 + epochOffset)
    }
}
