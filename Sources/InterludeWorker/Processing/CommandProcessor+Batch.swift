import Foundation
import Interlude

extension CommandProcessor {
    /// One command of a batch and the topic it was read from.
    public struct BatchItem: Sendable {
        /// The command.
        public var command: CommandMessage
        /// The topic it came from.
        public var topic: String

        /// Creates an item.
        public init(command: CommandMessage, topic: String) {
            self.command = command
            self.topic = topic
        }
    }

    /// How one command of a batch ended.
    public enum BatchOutcome: Sendable {
        /// Settled: applied, a duplicate, or a dead letter (misrouted, or an id another command
        /// already uses).
        case processed(Processed)
        /// Not settled by the batch: process it on its own with
        /// ``processCollecting(_:topic:)``, which re-reads its thread and handles retries,
        /// refusals, continuation and conflicts. Nothing of it was written by the batch.
        case alone
    }

    /// Processes commands of *different* threads together: one round trip loads their ledger
    /// entries and threads, their graph steps run concurrently, and one round trip commits
    /// them (each thread compared-and-set on its own, so a loser does not undo the others).
    ///
    /// The batch settles the common case, a `run` or `resume` that runs to a pause or the end.
    /// Everything else comes back as ``BatchOutcome/alone``: edits and cancels, refusals,
    /// failing nodes, partly applied commands, commits that lost to another writer, and the
    /// whole batch when the store cannot be reached. Their batch work was never committed.
    /// - Parameter items: Commands of distinct threads, in their partition's order.
    public func processBatch(_ items: [BatchItem]) async -> [BatchOutcome] {
        var outcomes = [BatchOutcome](repeating: .alone, count: items.count)
        var eligible: [Int] = []
        for (i, item) in items.enumerated() {
            if let reason = misrouted(item.command, topic: item.topic) {
                outcomes[i] = .processed(Processed(result: .deadLetter(reason), outbox: []))
                continue
            }
            switch item.command.body {
            case .run, .resume: if configuration.durability == .exit { eligible.append(i) }
            default: break
            }
        }
        guard !eligible.isEmpty else { return outcomes }
        let loaded: [(CommandRecord?, ThreadSnapshot?)]
        do {
            loaded = try await store.loadCommands(eligible.map { (items[$0].command.id, items[$0].command.threadID) })
        } catch {
            return outcomes
        }

        var runs: [PreparedRun] = []
        for (k, i) in eligible.enumerated() {
            let (ledger, snapshot) = loaded[k]
            if let ledger {
                if let clash = idClash(items[i].command, ledger: ledger) {
                    outcomes[i] = .processed(Processed(result: .deadLetter(clash), outbox: []))
                } else if ledger.status.isFinal {
                    outcomes[i] = .processed(Processed(result: .duplicate, outbox: []))
                }
                continue
            }
            if let run = prepare(items[i].command, index: i, snapshot: snapshot) { runs.append(run) }
        }
        guard !runs.isEmpty else { return outcomes }

        // The graph steps of different threads run concurrently: a slow node (a model call)
        // holds up only its own thread.
        let finished = await withTaskGroup(of: (Int, GraphOutcome?).self) { group in
            for (k, run) in runs.enumerated() {
                group.addTask { (k, try? await run.body(run.config)) }
            }
            var finished = [GraphOutcome?](repeating: nil, count: runs.count)
            for await (k, outcome) in group { finished[k] = outcome }
            return finished
        }
        var committing: [(run: PreparedRun, outcome: GraphOutcome, commits: [StepCommit])] = []
        for (run, outcome) in zip(runs, finished) {
            guard let outcome else { continue }
            let commits = run.store.commits
            guard !commits.isEmpty else { continue }
            committing.append((run, outcome, commits))
        }
        guard !committing.isEmpty, let results = try? await store.commitBatch(committing.flatMap(\.commits)) else { return outcomes }
        var next = results.makeIterator()
        for entry in committing {
            var applied = true
            for _ in entry.commits {
                if case .failure = next.next()! { applied = false }
            }
            if applied {
                outcomes[entry.run.index] = .processed(Processed(result: .applied(entry.outcome.status), outbox: entry.run.staging.rows))
            }
        }
        return outcomes
    }

    /// A batched command ready to run against its own ``DeferringStore``.
    struct PreparedRun: Sendable {
        var index: Int
        var store: DeferringStore
        var staging: OutboxStaging
        var config: RunConfig
        var body: @Sendable (RunConfig) async throws -> GraphOutcome
    }

    /// The run of a command that the batch can settle, or `nil` when it needs the full
    /// handling on its own (a refusal, an unknown graph or thread).
    private func prepare(_ command: CommandMessage, index: Int, snapshot: ThreadSnapshot?) -> PreparedRun? {
        let graphName: String
        switch command.body {
        case .run(let name, _, _, let ifBusy):
            if ifBusy == .reject, let record = snapshot?.record, record.status == .interrupted || record.status == .ready { return nil }
            graphName = name
        case .resume(_, _, let expected):
            guard let record = snapshot?.record, expected == nil || expected == record.head, !needsSignatureCheck(command) else { return nil }
            graphName = record.graph.name
        default:
            return nil
        }
        guard let hosted = registry.graph(named: graphName) else { return nil }
        let store = DeferringStore(base: self.store, threadID: command.threadID, snapshot: snapshot)
        let graph = hosted.bound(store)
        let staging = OutboxStaging()
        let config = runConfig(for: command, graph: graph, ledger: .progress, staging: staging)
        let thread = command.threadID
        let body: @Sendable (RunConfig) async throws -> GraphOutcome
        switch command.body {
        case .run(_, let input, _, _):
            body = { try await graph.run(input, thread, $0) }
        case .resume(let value, let values, _):
            let resume: Resume = values.map { .byID($0) } ?? .value(value ?? .null)
            body = { try await graph.resume(resume, thread, $0) }
        default:
            return nil
        }
        return PreparedRun(index: index, store: store, staging: staging, config: config, body: body)
    }
}
