import Foundation
import Synchronization

/// A checkpoint id: a UUIDv7, so ids sort by creation time.
///
/// Along one branch of a thread, every new id is greater than its parent's, even when
/// different machines with skewed clocks write consecutive steps: ``next(after:now:)`` bumps
/// the id past its parent when the clock alone would not. Channel versions reuse these ids
/// (a channel's version is the id of the checkpoint that last wrote it), so "newer" means
/// "greater" everywhere.
public struct CheckpointID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The high 64 bits (48-bit millisecond timestamp, version, 12-bit sequence).
    public let high: UInt64
    /// The low 64 bits (variant and random bits).
    public let low: UInt64

    /// Creates an id from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the canonical 36-character UUID text (case-insensitive).
    public init?(_ text: String) {
        let hex = text.utf8.filter { $0 != UInt8(ascii: "-") }
        guard text.utf8.count == 36, hex.count == 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, c) in hex.enumerated() {
            guard let nibble = Self.nibble(c) else { return nil }
            if i < 16 { high = high << 4 | UInt64(nibble) } else { low = low << 4 | UInt64(nibble) }
        }
        self.init(high: high, low: low)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The canonical lowercase UUID text.
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var position = 0
            for (half, value) in [(0, high), (1, low)] {
                for nibble in 0..<16 {
                    let index = half * 16 + nibble
                    if index == 8 || index == 12 || index == 16 || index == 20 {
                        buffer[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    let digit = Int((value >> UInt64((15 - nibble) * 4)) & 0xF)
                    buffer[position] = digits.utf8Start[digit]
                    position += 1
                }
            }
            return position
        }
    }

    /// The millisecond timestamp in the id.
    public var milliseconds: UInt64 { high >> 16 }

    public static func < (lhs: CheckpointID, rhs: CheckpointID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = CheckpointID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a UUID: \(text)")
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static let sequence = Mutex<(ms: UInt64, seq: UInt64)>((0, 0))

    /// A new id for the given time, greater than `parent` when one is given.
    ///
    /// Within one process ids made in the same millisecond still increase (a 12-bit sequence);
    /// across processes, the `parent` rule keeps a branch increasing.
    public static func next(after parent: CheckpointID? = nil, now: Date = Date()) -> CheckpointID {
        let ms = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (stamp, seq) = sequence.withLock { state -> (UInt64, UInt64) in
            if ms > state.ms {
                state = (ms, 0)
            } else if state.seq < 0xFFF {
                state.seq += 1
            } else {
                state = (state.ms + 1, 0)
            }
            return (state.ms, state.seq)
        }
        let high = (stamp << 16) | 0x7000 | seq
        let low = (UInt64.random(in: 0...UInt64.max) & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        var id = CheckpointID(high: high, low: low)
        if let parent, id <= parent {
            id = parent.successor
        }
        return id
    }

    /// The next id after this one that keeps the UUIDv7 version and variant bits.
    var successor: CheckpointID {
        var seq = high & 0xFFF
        var stamp = high >> 16
        if seq < 0xFFF { seq += 1 } else { seq = 0; stamp += 1 }
        return CheckpointID(high: (stamp << 16) | 0x7000 | seq, low: low)
    }
}

