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
        // Same text form as a UUID (and a checkpoint id), for readable ids in storage and logs.
        return CheckpointID(high: a, low: b).description
    }

}
