import Foundation

/// Lines typed on stdin as an `AsyncStream`, read by one dedicated thread so a blocking
/// `readLine` never holds a thread of Swift's cooperative pool.
enum StdinLines {
    static func stream() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let reader = Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(line) }
            continuation.finish()
        }
        reader.name = "interlude.stdin"
        reader.start()
        return stream
    }
}
