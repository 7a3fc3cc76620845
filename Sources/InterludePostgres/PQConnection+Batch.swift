internal import CLibPQ

extension PQConnection {
    /// Runs statements in one round trip (libpq pipeline mode) with a sync point after each,
    /// so each is its own implicit transaction: one failing does not affect the others.
    /// Returns each statement's rows or error, in order.
    ///
    /// Meant for independent writes (one commit per thread): a batch of commits costs one
    /// round trip, and a conflict or a refused value in one thread leaves the rest applied.
    /// - Throws: `PostgresError` only when the pipeline itself cannot be used (the connection
    ///   broke, a statement could not be prepared).
    func executeEach(_ statements: [(PostgresStatement, [PostgresValue])]) throws(PostgresError) -> [Result<PostgresRows, PostgresError>] {
        guard !statements.isEmpty else { return [] }
        let deadline = Deadline(limit: queryDeadline)
        var names: [String] = []
        for (statement, parameters) in statements { names.append(try prepare(statement, parameters, deadline)) }
        try send("pipeline") { PQenterPipelineMode(handle) }
        defer { PQexitPipelineMode(handle) }
        for (i, (statement, parameters)) in statements.enumerated() {
            try sendPrepared(statement, serverName: names[i], parameters)
            try send(statement.name) { PQpipelineSync(handle) }
        }
        try flush("pipeline", deadline)
        var results: [Result<PostgresRows, PostgresError>] = []
        results.reserveCapacity(statements.count)
        for (statement, _) in statements {
            // A statement yields its result, then NULL, then its sync point.
            let result = try nextResult(statement.name, deadline)
            do throws(PostgresError) {
                try check(result, statement: statement.name)
                results.append(.success(Self.rows(of: result!)))
            } catch {
                results.append(.failure(error))
            }
            PQclear(result)
            while let extra = try nextResult(statement.name, deadline) { PQclear(extra) }
            if let sync = try nextResult("pipeline", deadline) { PQclear(sync) }
        }
        if isLost {
            throw PostgresError(.connectionLost, "the connection was lost during a pipeline: \(String(cString: PQerrorMessage(handle)))", statement: "pipeline")
        }
        return results
    }
}
