internal import CLibPQ
import Foundation
import Logging

/// Owns one connection's libpq cancel handle (`PGcancel`) and frees it in `deinit`.
///
/// A cancel request travels on a new connection to the server, so it can be sent from any
/// thread while the connection's own thread waits for the statement's answer.
final class PQCanceller: @unchecked Sendable {
    // @unchecked Sendable: the PGcancel is never changed after PQgetCancel; libpq documents
    // PQcancel as safe to call from any thread (even a signal handler); only deinit frees it,
    // once no thread holds a reference.
    private let handle: OpaquePointer
    private let logger: Logger

    /// Takes the cancel handle of an open connection; `nil` when libpq has none for it.
    init?(connection: OpaquePointer, logger: Logger) {
        guard let handle = PQgetCancel(connection) else { return nil }
        self.handle = handle
        self.logger = logger
    }

    deinit { PQfreeCancel(handle) }

    /// Asks the server to cancel whatever the connection is running. Blocks while it opens a
    /// connection to the server, so never call it on Swift's cooperative thread pool.
    /// - Returns: `nil` when the request was delivered, otherwise libpq's reason.
    func cancel() -> String? {
        var reason = [CChar](repeating: 0, count: 256)
        let delivered = reason.withUnsafeMutableBufferPointer { PQcancel(handle, $0.baseAddress, Int32($0.count)) }
        guard delivered == 0 else { return nil }
        let bytes = reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sends a cancel request from a new thread, then calls `completion` on that thread.
    ///
    /// A thread of its own, because the caller may be a task's cancellation handler on the
    /// cooperative pool, and a server that stopped answering can hold `PQcancel` for as long
    /// as a TCP connect takes to fail.
    func cancelInBackground(completion: @escaping @Sendable () -> Void = {}) {
        Thread.detachNewThread { [self] in
            if let reason = cancel() {
                logger.warning("could not send a PostgreSQL cancel request: \(reason)")
            }
            completion()
        }
    }
}
