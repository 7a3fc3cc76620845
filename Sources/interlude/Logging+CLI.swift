import Foundation
import InterludeWorker
import Logging

/// A logger at the level `INTERLUDE_LOG_LEVEL` names (default info), writing to stderr: text,
/// or JSON lines when `INTERLUDE_LOG_FORMAT=json`.
func makeLogger(_ label: String) -> Logger {
    let json = ProcessInfo.processInfo.environment["INTERLUDE_LOG_FORMAT"]?.lowercased() == "json"
    var logger = Logger(label: label) { label -> any LogHandler in json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label) }
    let level = ProcessInfo.processInfo.environment["INTERLUDE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    logger.logLevel = level
    return logger
}
