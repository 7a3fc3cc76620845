import Foundation

/// The terminal the demo talks to: prints (flushed at once, so piped output keeps its
/// order) and reads one answer line at a time from stdin.
struct Console: Sendable {
    /// `true` when stdin is a terminal; otherwise answers read are echoed so a piped
    /// transcript shows them.
    let interactive = isatty(0) == 1

    func say(_ line: String = "") {
        print(line)
        fflush(nil)
    }

    /// Prints `prompt` and reads one line. Returns `nil` for a blank line or end of input,
    /// which every caller maps to its documented default.
    func ask(_ prompt: String) -> String? {
        print("   \(prompt)\n   > ", terminator: "")
        fflush(nil)
        guard let line = readLine(strippingNewline: true) else {
            say("(end of input: default)")
            return nil
        }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if !interactive { say(trimmed.isEmpty ? "(blank: default)" : trimmed) }
        return trimmed.isEmpty ? nil : trimmed
    }
}
