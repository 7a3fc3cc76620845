import Foundation
import Synchronization

/// The time source for checkpoint timestamps and interrupt deadlines, injectable so tests
/// move time by hand.
public protocol GraphClock: Sendable {
    /// The current time.
    var now: Date { get }
}

/// The system clock.
public struct SystemClock: GraphClock {
    /// Creates the system clock.
    public init() {}
    /// `Date()`.
    public var now: Date { Date() }
}

/// A clock that only moves when told to: for tests of deadlines.
public final class ManualClock: GraphClock {
    private let current: Mutex<Date>

    /// Creates a clock stopped at `start`. Default: 2026-01-01T00:00:00Z.
    public init(start: Date = Date(timeIntervalSince1970: 1_767_225_600)) {
        current = Mutex(start)
    }

    /// The clock's time.
    public var now: Date { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 += seconds }
    }
}
