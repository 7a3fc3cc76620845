import Foundation

/// A minimal HTTP/1.0 GET over loopback, for reading a worker's endpoints (`/readyz`,
/// `/metrics`): `interlude dev` waits with it for its workers to join their group, and tests
/// read the endpoints with it. The blocking socket calls run on a thread of their own, never
/// on Swift's cooperative pool; a call gives up after 10 seconds without an answer.
public enum HTTPProbe {
    /// The status code and body of `GET path` on 127.0.0.1:`port`.
    /// - Throws: When the connection fails or the answer is not HTTP.
    public static func get(port: Int, _ path: String) async throws -> (status: Int, body: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try request(port: port, path: path) })
            }
        }
    }

    private static func request(port: Int, path: String) throws -> (status: Int, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPProbeError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw HTTPProbeError("connecting to 127.0.0.1:\(port) failed: errno \(errno)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { throw HTTPProbeError("sending to 127.0.0.1:\(port) failed") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let head = text.range(of: "\r\n\r\n"), let statusText = text.split(separator: " ").dropFirst().first, let status = Int(statusText) else {
            throw HTTPProbeError("not an HTTP answer from 127.0.0.1:\(port)\(path): \(text.prefix(200))")
        }
        return (status, String(text[head.upperBound...]))
    }
}

/// A failed probe: the connection failed or the answer was not HTTP.
public struct HTTPProbeError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
