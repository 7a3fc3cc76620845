import Foundation
import Logging

/// A logger at the level `INTERLUDE_LOG_LEVEL` names (default info), writing to stderr.
func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    let level = ProcessInfo.processInfo.environment["INTERLUDE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    logger.logLevel = level
    return logger
}
