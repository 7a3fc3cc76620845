import Foundation
import Interlude
import InterludePostgres
import InterludeWorker
import Testing

/// The Python review client (`clients/python`, on confluent-kafka and its own librdkafka)
/// against real worker processes: its unit tests, then `tests/interop_driver.py` driving the
/// system, then the workers' database checked from here.
@Suite("Python client interop", .tags(.e2e), .serialized, .timeLimit(.minutes(10)))
struct PythonClientTests {
    @Test(
        "the Python client runs 20 approvals (half approved, half rejected), its repeated answers change nothing, late and unknown answers are rejected with reasons, malformed messages are dead-lettered",
        .enabled(if: PythonEnvironment.python3 != nil, "python3 is not installed: scripts/install-deps.sh installs python3 and python3-venv")
    )
    func interop() async throws {
        let python = try await PythonEnvironment.make()
        defer { python.remove() }
        let unit = try await ChildProcess.run(python.python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", PythonEnvironment.package.appendingPathComponent("tests").path])
        try #require(unit.status == 0, "the Python client's unit tests failed (exit \(unit.status)):\n\(unit.output)")

        try await withSystem { system in
            try system.startWorkers(2)
            let reportPath = python.folder.appendingPathComponent("report.json").path
            let runs = 20
            let driver = try await ChildProcess.run(python.python, [
                PythonEnvironment.package.appendingPathComponent("tests/interop_driver.py").path,
                "--bootstrap-servers", system.cluster.bootstrapServers, "--topic-prefix", system.topics.prefix,
                "--runs", "\(runs)", "--timeout", "120", "--report", reportPath,
            ])
            try #require(driver.status == 0, "the interop driver failed (exit \(driver.status)):\n\(driver.output)\n\(system.workerLogs())")
            let report = try InteropReport.read(reportPath)
            #expect(report.failures.isEmpty, "\(report.failures)")
            #expect(report.threads.count == runs)
            #expect(report.approved.count == runs / 2 && report.rejected.count == runs / 2)

            for thread in report.threads {
                let record = try #require(try await system.checkpointer.thread(thread), "thread \(thread) is not in the database")
                #expect(record.status == .completed, "thread \(thread)")
                // One commit for the run, one for the answer: the repeated answer and the late
                // one applied nothing.
                #expect(record.version == 2, "thread \(thread) is at version \(record.version); a repeated or late answer was applied")
            }
            let tag = [PostgresValue.text(report.tag)]
            // Per approval thread: the run, the answer, the late answer (rejected). The repeated
            // answers reuse their command ids, so they add no row.
            #expect(try await system.count(PythonSQL.ledger, tag) == Int64(3 * runs))
            #expect(try await system.count(PythonSQL.applied, tag) == Int64(2 * runs))
            #expect(try await system.count(PythonSQL.lateRejected, tag) == Int64(runs))
            #expect(try await system.count(PythonSQL.resolved, tag) == Int64(runs))
            let unknown = try await system.count(PythonSQL.unknownInterrupt, [.text(report.unknownCommand)])
            #expect(unknown == 1)
            let cancelled = try #require(try await system.checkpointer.thread(report.cancelledThread))
            #expect(cancelled.status == .failed)
            #expect(Set(report.deadLetters.values) == ["undecodable", "invalid_envelope", "unsupported_schema_version", "unknown_type", "unknown_graph", "wrong_topic"])
        }
    }
}

extension PythonClientTests {
    @Test(
        "answers signed by the Python client are verified by a real worker that requires signatures: a signed approver's answer applies once; a replay, an unsigned answer, an unlisted actor and an unknown key are refused with their reasons",
        .enabled(if: PythonEnvironment.python3 != nil, "python3 is not installed: scripts/install-deps.sh installs python3 and python3-venv")
    )
    func signedInterop() async throws {
        let python = try await PythonEnvironment.make()
        defer { python.remove() }
        let seed = Data(repeating: 5, count: 32)
        let signer = try ResumeSigner(privateKey: seed, keyID: "py-1")
        try await withSystem { system in
            try system.startWorkers(1, extra: [
                "INTERLUDE_REQUIRE_SIGNED_RESUMES": "true",
                "INTERLUDE_RESUME_KEYS": #"{"py-1": "\#(signer.publicKey.base64EncodedString())"}"#,
            ])
            let reportPath = python.folder.appendingPathComponent("signed.json").path
            let driver = try await ChildProcess.run(python.python, [
                PythonEnvironment.package.appendingPathComponent("tests/signed_driver.py").path,
                "--bootstrap-servers", system.cluster.bootstrapServers, "--topic-prefix", system.topics.prefix,
                "--seed-hex", seed.map { String(format: "%02x", $0) }.joined(), "--key-id", "py-1", "--report", reportPath,
            ])
            try #require(driver.status == 0, "the signed driver failed (exit \(driver.status)):\n\(driver.output)\n\(system.workerLogs())")
            let report = try JSONValue(json: Data(contentsOf: URL(fileURLWithPath: reportPath)))
            #expect(report["failures"] == [])
            let applied = try #require(report["applied_thread"]?.stringValue)
            let record = try #require(try await system.checkpointer.interrupts(thread: applied).first)
            #expect(record.status == .resolved && record.resolvedBy == "alice")
            let refused = try #require(report["refused_thread"]?.stringValue)
            #expect(try await system.checkpointer.interrupts(thread: refused).first?.status == .pending)
            #expect(try await system.checkpointer.thread(refused)?.version == 1, "a refused answer changed the thread")
        }
    }
}

/// Counts over the approval threads of one driver run (`<tag>-<number>`; `$1` is the tag).
private enum PythonSQL {
    static let ledger = PostgresStatement("python.ledger", sql: "SELECT count(*) FROM command_ledger WHERE thread_id ~ ('^' || $1 || '-[0-9]+$')")
    static let applied = PostgresStatement("python.applied", sql: "SELECT count(*) FROM command_ledger WHERE thread_id ~ ('^' || $1 || '-[0-9]+$') AND status = 'applied'")
    static let lateRejected = PostgresStatement(
        "python.late", sql: "SELECT count(*) FROM command_ledger WHERE thread_id ~ ('^' || $1 || '-[0-9]+$') AND status = 'rejected' AND outcome = 'already_resolved'")
    static let resolved = PostgresStatement("python.resolved", sql: "SELECT count(*) FROM interrupts WHERE thread_id ~ ('^' || $1 || '-[0-9]+$') AND status = 'resolved'")
    static let unknownInterrupt = PostgresStatement(
        "python.unknown", sql: "SELECT count(*) FROM command_ledger WHERE command_id = $1 AND status = 'rejected' AND outcome = 'unknown_interrupt'")
}

/// What `interop_driver.py` writes to `--report`.
private struct InteropReport: Decodable {
    var tag: String
    var threads: [String]
    var approved: [String]
    var rejected: [String]
    var unknownCommand: String
    var cancelledThread: String
    var deadLetters: [String: String]
    var failures: [String]

    enum CodingKeys: String, CodingKey {
        case tag, threads, approved, rejected, failures
        case unknownCommand = "unknown_command", cancelledThread = "cancelled_thread", deadLetters = "dead_letters"
    }

    static func read(_ path: String) throws -> InteropReport {
        try JSONDecoder().decode(InteropReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// A throwaway virtualenv with confluent-kafka, jsonschema, pytest and `clients/python` installed.
private struct PythonEnvironment {
    let folder: URL
    var python: String { folder.appendingPathComponent("venv/bin/python").path }

    /// `clients/python` in this checkout.
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("clients/python")

    /// The first `python3` on `PATH`, or `nil`.
    static let python3: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func make() async throws -> PythonEnvironment {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("interlude-python-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let environment = PythonEnvironment(folder: folder)
        guard let python3 else { throw SystemError("python3 is not installed") }
        let venv = try await ChildProcess.run(python3, ["-m", "venv", folder.appendingPathComponent("venv").path])
        guard venv.status == 0 else {
            throw SystemError("python3 -m venv failed (exit \(venv.status)); install python3-venv (scripts/install-deps.sh does):\n\(venv.output)")
        }
        // The package is built with the venv's own setuptools (no isolated build environment
        // to create: that alone took minutes on a loaded 2-core machine).
        for arguments in [
            ["confluent-kafka", "cryptography", "jsonschema", "pytest", "setuptools>=70.1"],
            ["--no-build-isolation", "--no-deps", package.path],
        ] {
            let pip = try await ChildProcess.run(environment.python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + arguments)
            guard pip.status == 0 else {
                throw SystemError("pip install \(arguments.joined(separator: " ")) failed in \(folder.path) (exit \(pip.status)); PyPI must be reachable:\n\(pip.output)")
            }
        }
        return environment
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}
