import Foundation

/// Free TCP ports on the loopback interface.
enum LocalPort {
    /// A port nothing listens on now: the kernel picks one for a socket bound to port 0, which
    /// is then closed. Another process could take it before the caller does; on loopback, for
    /// the dev stack, that is unlikely enough.
    static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DemoError("could not open a socket to find a free port (errno \(errno))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw DemoError("could not bind a socket on 127.0.0.1 to find a free port (errno \(errno))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
