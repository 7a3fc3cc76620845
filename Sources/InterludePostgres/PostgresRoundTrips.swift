import Synchronization

/// Counts round trips to PostgreSQL: each time a connection sends what it queued (one
/// statement, a preparation, or a whole libpq pipeline) and then waits for the answers.
///
/// A ``PostgresPool`` counts for all its connections (``PostgresPool/roundTrips``), so a
/// caller can measure what a piece of work cost: read ``total`` before and after. Opening a
/// connection (the TCP and authentication handshake) is not counted; its session set-up
/// statements are.
public final class PostgresRoundTrips: Sendable {
    private let count = Atomic<Int>(0)

    /// A counter at zero.
    public init() {}

    /// Round trips counted so far.
    public var total: Int { count.load(ordering: .relaxed) }

    /// One more round trip.
    func record() { count.add(1, ordering: .relaxed) }
}
