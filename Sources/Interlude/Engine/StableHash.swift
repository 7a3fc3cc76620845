/// Deterministic 128-bit hashing for task and interrupt ids.
///
/// Planning the same step of the same checkpoint twice must give the same task ids (that is
/// how saved writes find their task after a crash), so ids are a hash of their inputs, not
/// random. Two FNV-1a 64-bit passes with different offsets; not cryptographic, and need not be.
enum StableHash {
    static func id(_ parts: String...) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x84222325_cbf29ce4
        let prime: UInt64 = 0x0000_0100_0000_01B3
        for (i, part) in parts.enumerated() {
            if i > 0 {
                a = (a ^ 0x1F) &* prime
                b = (b ^ 0x1F) &* prime
            }
            for byte in part.utf8 {
                a = (a ^ UInt64(byte)) &* prime
                b = (b ^ UInt64(byte)) &* prime &+ 0x9E37_79B9
            }
        }
        b ^= a >> 29
        return format(a, b)
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func format(_ high: UInt64, _ low: UInt64) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(36)
        for (i, value) in [high, low].enumerated() {
            for nibble in (0..<16).reversed() {
                let position = i * 16 + (15 - nibble)
                if position == 8 || position == 12 || position == 16 || position == 20 { bytes.append(UInt8(ascii: "-")) }
                bytes.append(digits[Int((value >> (UInt64(nibble) * 4)) & 0xF)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
