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
        var names: [String] = []
        for (statement, parameters) in statements { names.append(try prepare(statement, parameters)) }
        guard PQenterPipelineMode(handle) == 1 else {
            throw pipelineFailure("pipeline")
        }
        defer { PQexitPipelineMode(handle) }
        for (i, (statement, parameters)) in statements.enumerated() {
            let sent = withParameters(parameters) { values, lengths, formats in
                PQsendQueryPrepared(handle, names[i], Int32(parameters.count), values, lengths, formats, 1)
            }
            guard sent == 1, PQpipelineSync(handle) == 1 else { throw pipelineFailure(statement.name) }
        }
        var results: [Result<PostgresRows, PostgresError>] = []
        results.reserveCapacity(statements.count)
        for (statement, _) in statements {
            // A statement yields its result, then NULL, then its sync point.
            let result = PQgetResult(handle)
            do throws(PostgresError) {
                try check(result, statement: statement.name)
                results.append(.success(Self.rows(of: result!)))
            } catch {
                results.append(.failure(error))
            }
            PQclear(result)
            while let extra = PQgetResult(handle) { PQclear(extra) }
            // Then this statement's sync point.
            if let sync = PQgetResult(handle) { PQclear(sync) }
        }
        if isBroken { throw pipelineFailure("pipeline") }
        return results
    }

    private func pipelineFailure(_ statement: String) -> PostgresError {
        let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(isBroken ? .connectionLost : .server, "pipeline failed: \(message)", statement: statement)
    }
}
