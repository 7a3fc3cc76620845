/// A named SQL statement with `$1`, `$2`, ... placeholders for its parameters.
///
/// The SQL is a `StaticString`, so it is always a literal in the source: values travel as
/// ``PostgresValue`` parameters, never inside the SQL text. The name appears in errors and
/// logs (the parameters never do). Each connection prepares a statement the first time it
/// runs it and reuses the prepared form afterwards.
public struct PostgresStatement: Sendable, Hashable, CustomStringConvertible {
    /// A short name for errors and logs, such as `"checkpoint.load"`.
    public let name: String
    /// The SQL text.
    public let sql: String

    /// Creates a statement from literal SQL.
    /// - Parameters:
    ///   - name: A short name for errors and logs; statements with different SQL need different names.
    ///   - sql: The SQL, with `$n` placeholders.
    public init(_ name: StaticString, sql: StaticString) {
        self.name = name.description
        self.sql = sql.description
    }

    /// For SQL the library carries itself (embedded migrations).
    init(name: String, trustedSQL: String) {
        self.name = name
        self.sql = trustedSQL
    }

    public var description: String { name }
}
