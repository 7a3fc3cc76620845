import Foundation
@testable import InterludePostgres
import Testing

/// The migrations the library embeds are the files of `schemas/postgres/` (the ones operators
/// read and review), numbered without gaps.
@Suite("PostgreSQL migrations")
struct PostgresMigrationsTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("schemas/postgres")

    @Test("Every embedded migration is byte for byte its file in schemas/postgres, and every file there is embedded")
    func embeddedMatchFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == PostgresMigrations.all.map(\.fileName), "files in schemas/postgres against the embedded list")
        for migration in PostgresMigrations.all {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(migration.fileName), encoding: .utf8)
            // The file ends with a newline; a Swift multi-line literal drops its last one.
            #expect(text == migration.sql + "\n", "\(migration.fileName) differs from its copy in PostgresMigrations+SQL.swift")
        }
    }

    @Test("Versions run 1, 2, 3, ... without gaps, and the latest is the last")
    func versionsWithoutGaps() {
        #expect(PostgresMigrations.all.map(\.version) == Array(1...PostgresMigrations.all.count))
        #expect(PostgresMigrations.latestVersion == PostgresMigrations.all.count)
    }
}
