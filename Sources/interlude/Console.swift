import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one writer of console output: every line the CLI shows goes through it, as `write(2)`
/// calls on the file descriptor under one lock, so output from several tasks never interleaves
/// and never waits on C stdio.
///
/// C stdio is not used for output on purpose: flushing all C streams locks each of them, stdin
/// included, and the thread blocked in `readLine` holds stdin's lock, so a flush waits until
/// the user types a line (the review desk deadlocked that way: its questions never appeared).
/// `write(2)` takes no stdio lock and is unbuffered, so piped output keeps its order too.
final class ConsoleWriter: Sendable {
    /// The writer for stdout.
    static let standardOutput = ConsoleWriter(fileDescriptor: 1)
    /// The writer for stderr.
    static let standardError = ConsoleWriter(fileDescriptor: 2)

    let fileDescriptor: Int32
    /// `true` when the descriptor is a terminal (a status line may rewrite itself with `\r`).
    let isTerminal: Bool
    /// Whether a status line (no newline yet) is on screen and must be ended first.
    private let statusShown = Mutex(false)

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        isTerminal = isatty(fileDescriptor) == 1
    }

    /// Writes `text` as it is (no newline added). A status line on screen is ended first.
    func write(_ text: String) {
        statusShown.withLock { shown in
            if shown {
                writeAll("\n")
                shown = false
            }
            writeAll(text)
        }
    }

    /// Writes `line` and a newline.
    func line(_ line: String) { write(line + "\n") }

    /// Shows a status line that the next status replaces in place (`\r`, clear to end of line)
    /// on a terminal; anything else written meanwhile starts on a fresh line. When the
    /// descriptor is not a terminal, it is written as an ordinary line.
    func status(_ text: String) {
        guard isTerminal else {
            line(text)
            return
        }
        statusShown.withLock { shown in
            writeAll("\r\u{1B}[K" + text)
            shown = true
        }
    }

    /// Loops over short writes and EINTR. Errors (a closed terminal: EIO, a closed pipe:
    /// EPIPE) drop the output: there is nowhere left to show it, and shutting down must go on.
    private func writeAll(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fileDescriptor, $0.baseAddress, $0.count) }
            if written > 0 {
                bytes = bytes.dropFirst(written)
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

/// The terminal the demo talks to: prints through the one ``ConsoleWriter`` and reads one
/// answer line at a time from stdin.
struct Console: Sendable {
    /// `true` when stdin is a terminal; otherwise answers read are echoed so a piped
    /// transcript shows them.
    let interactive = isatty(0) == 1
    let out = ConsoleWriter.standardOutput

    func say(_ line: String = "") {
        out.line(line)
    }

    /// Prints a prompt without a newline (the answer is typed after it).
    func prompt(_ text: String) {
        out.write(text)
    }

    /// Prints `prompt` and reads one line. Returns `nil` for a blank line or end of input,
    /// which every caller maps to its documented default. The blocking read holds stdin's C
    /// lock only; output goes through `write(2)` and never waits on it.
    func ask(_ prompt: String) -> String? {
        out.write("   \(prompt)\n   > ")
        guard let line = readLine(strippingNewline: true) else {
            say("(end of input: default)")
            return nil
        }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if !interactive { say(trimmed.isEmpty ? "(blank: default)" : trimmed) }
        return trimmed.isEmpty ? nil : trimmed
    }
}
