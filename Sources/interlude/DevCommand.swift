import ArgumentParser
import Foundation
import Interlude
import InterludeExamples
import InterludeKafka
import InterludePostgres
import InterludeWorker
import Logging

/// `interlude dev`: the whole system on this machine with no set-up.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Start PostgreSQL, an embedded Kafka cluster and workers, run example approvals and review them here.",
        discussion: """
            Starts a throwaway PostgreSQL under .interlude/pg (scripts/pg-server.sh), librdkafka's mock \
            Kafka cluster in this process (real Kafka protocol on loopback; any Kafka client can join at \
            the printed address), and worker processes. Addresses go to .interlude/dev.env. Then it starts \
            approval runs (or, with --graph subgraph-review, runs whose question is asked inside a \
            subgraph) and shows each question; answer a (approve), r (reject), e <text> (edit the \
            draft) or JSON. With --auto-approve N it runs N threads unattended and prints a summary.
            """
    )

    @Option(help: "Run this many threads (of --graph) unattended, then print a summary and exit.")
    var autoApprove: Int?

    @Option(help: "With --auto-approve: start this many runs per second (latency at low load), acknowledged or not. Default: all at once.")
    var rate: Double?

    @Option(help: "The graph whose runs are started: approval or subgraph-review (a review subgraph as a node). Default: approval.")
    var graph = "approval"

    @Option(help: "Runs to start for the interactive review. Default: 3.")
    var runs = 3

    @Option(help: "Tool-review runs to start as well (the tool-review example: approve, edit, reject or respond to a tool call). Default: 0.")
    var toolReviews = 0

    @Option(help: "Worker processes. Default: 2.")
    var workers = 2

    @Option(help: "Partitions per topic. Default: 4.")
    var partitions: Int32 = 4

    @Option(help: "Brokers in the embedded cluster. Default: 1.")
    var brokers = 1

    @Flag(help: "Start the stack and the runs, then keep it running without the review desk until interrupted (answer with 'interlude review' in another terminal).")
    var serve = false

    /// Runs a load may queue per partition at once: the embedded (mock) cluster keeps 5 MB per
    /// partition and deletes older messages even when nobody read them, and a run's command
    /// and its resume take 270-400 bytes each (a 20,000-run load on one partition lost 3,497
    /// runs; 10,000 ran clean).
    static let runsPerPartition = 10_000

    /// The pace per partition (`--rate` over `--partitions`) at which a load of any size is
    /// accepted: far below what one worker drains from one partition (1,782 runs/s measured on
    /// 2 cores with `--auto-approve 10000 --workers 1 --partitions 1`), so no backlog builds up.
    static let pacedRunsPerPartitionPerSecond = 250

    /// Why an `--auto-approve` load would lose runs on the embedded cluster, or `nil`: more runs
    /// per partition than the cluster keeps, sent unpaced or faster than the paced limit.
    static func overflowsEmbeddedCluster(runs: Int?, partitions: Int32, rate: Double?) -> String? {
        guard let runs, partitions >= 1, runs > runsPerPartition * Int(partitions) else { return nil }
        let pacedLimit = pacedRunsPerPartitionPerSecond * Int(partitions)
        if let rate, rate <= Double(pacedLimit) { return nil }
        let needed = (runs + runsPerPartition - 1) / runsPerPartition
        let pace = rate.map { " at --rate \(Int($0))" } ?? ""
        return "--auto-approve \(runs) over \(partitions) partition\(partitions == 1 ? "" : "s")\(pace) can queue about \(runs / Int(partitions)) runs on each at once; "
            + "the embedded Kafka cluster keeps 5 MB per partition (about \(runsPerPartition) runs with their answers) and deletes older messages even when unread, "
            + "so runs would be lost. Use --partitions \(needed) or more, or pace the load with --rate \(pacedLimit) or less."
    }

    /// What is wrong with the counts given, or `nil`. `--runs 0` is allowed with `--serve` (an
    /// empty stack for the user's own clients) and with tool-review runs; the interactive desk
    /// needs at least one run to review.
    static func countProblem(workers: Int, runs: Int, toolReviews: Int, partitions: Int32, brokers: Int, serve: Bool) -> String? {
        guard workers >= 1, partitions >= 1, brokers >= 1 else { return "--workers, --partitions and --brokers must be 1 or more" }
        guard runs >= 0, toolReviews >= 0 else { return "--runs and --tool-reviews cannot be negative" }
        guard serve || runs + toolReviews >= 1 else {
            return "--runs 0 leaves nothing to review: add --serve for a stack with no runs (for your own clients), or --tool-reviews 1 or more"
        }
        return nil
    }

    func run() async throws {
        if let problem = Self.countProblem(workers: workers, runs: runs, toolReviews: toolReviews, partitions: partitions, brokers: brokers, serve: serve) {
            throw DemoError(problem)
        }
        if let autoApprove, autoApprove < 1 { throw DemoError("--auto-approve needs a positive number of threads") }
        if serve && autoApprove != nil { throw DemoError("--serve and --auto-approve exclude each other: --serve leaves the runs to 'interlude review'") }
        if let problem = Self.overflowsEmbeddedCluster(runs: autoApprove, partitions: partitions, rate: rate) { throw DemoError(problem) }
        _ = try DevGraphs.requireInput(for: graph)
        let logger = makeLogger("interlude.dev")
        let console = Console()
        let root = try DevEnvironment.projectRoot()
        let state = root.appendingPathComponent(".interlude")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try DevEnvironment.lock(state: state)
        // From here on, Ctrl-C, SIGTERM and a closed terminal stop what this run started.
        DevShutdown.shared.install()
        let leftovers = DevShutdown.shared.adoptPidFile(state.appendingPathComponent("workers.pid"))
        if leftovers > 0 { console.say("Stopped \(leftovers) process\(leftovers == 1 ? "" : "es") (workers, review console) left running by an earlier run.") }

        console.say("Starting PostgreSQL (.interlude/pg)...")
        let pgDirectory = state.appendingPathComponent("pg")
        DevShutdown.shared.track(postgres: pgDirectory, root: root)
        let database = try await DevEnvironment.startPostgres(root: root, directory: pgDirectory, console: console)
        do {
            try await runSystem(database: database, state: state, console: console, logger: logger)
        } catch {
            await DevEnvironment.stopPostgres(root: root, directory: pgDirectory)
            throw error
        }
        await DevEnvironment.stopPostgres(root: root, directory: pgDirectory)
    }

    private func runSystem(database: String, state: URL, console: Console, logger: Logger) async throws {
        let dropped = try await DevEnvironment.dropEarlierSchemas(database: database)
        if dropped > 0 { console.say("Dropped \(dropped) schema\(dropped == 1 ? "" : "s") left by earlier runs (their Kafka cluster stopped with them).") }
        let schema = "dev_\(UInt32.random(in: 0...UInt32.max))"
        let checkpointer = try PostgresCheckpointer(configuration: .init(url: database, schema: schema), logger: logger)
        try await checkpointer.migrate()
        checkpointer.close()

        console.say("Starting the embedded Kafka cluster...")
        let cluster = try KafkaDevCluster(brokers: brokers, logger: logger)
        let topics = TopicNames()
        try cluster.createTopics(topics.all.map { KafkaTopicSpec(name: $0, partitions: partitions) })
        let settings: [String: String] = [
            "INTERLUDE_DATABASE_URL": database, "INTERLUDE_DATABASE_SCHEMA": schema,
            "INTERLUDE_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrapServers, "INTERLUDE_TOPIC_PREFIX": topics.prefix,
            "INTERLUDE_CREATE_TOPICS": "false", "INTERLUDE_MIGRATE": "false", "INTERLUDE_SESSION_TIMEOUT_MS": "6000",
            "INTERLUDE_KAFKA_RECONNECT_BACKOFF_MAX_MS": "500",
        ]
        let envFile = state.appendingPathComponent("dev.env")
        try settings.keys.sorted().map { "\($0)=\(settings[$0]!)" }.joined(separator: "\n").appending("\n").write(to: envFile, atomically: true, encoding: .utf8)
        console.say("Kafka bootstrap servers: \(cluster.bootstrapServers) (topics \(topics.prefix)*)")
        console.say("PostgreSQL: \(DevEnvironment.masked(database)) schema \(schema)")
        console.say("Settings written to .interlude/dev.env")

        let fleet = try WorkerFleet(count: workers, settings: settings, logDirectory: state) { console.say($0) }
        console.say("Started \(workers) worker processes (logs in .interlude/worker-N.log)")
        for (i, port) in fleet.httpPorts.enumerated() { console.say("worker \(i + 1) metrics: http://127.0.0.1:\(port)/metrics") }
        var reviewConsole: DevConsole?
        do {
            if autoApprove != nil {
                // The load's clock starts once every worker has its partitions: a worker joining
                // mid-load rebalances the group, and the figures would measure the join.
                console.say("Waiting for the workers to join their consumer group...")
                try await fleet.waitUntilReady(partitions: Int(partitions) * topics.commands.count, timeout: .seconds(60), logDirectory: state)
            } else {
                let started = try await DevConsole.start(settings: settings, logDirectory: state)
                DevShutdown.shared.track(worker: started.child.pid)
                reviewConsole = started
                console.say("Review console: \(started.url) (log in .interlude/console.log)")
            }
            try await drive(settings: settings, topics: topics, console: console, logger: logger)
        } catch {
            await reviewConsole?.stop()
            await fleet.stop()
            DevShutdown.shared.workersStopped()
            throw error
        }
        console.say("Stopping the workers...")
        await reviewConsole?.stop()
        await fleet.stop()
        DevShutdown.shared.workersStopped()
        _ = cluster
    }

    private func drive(settings: [String: String], topics: TopicNames, console: Console, logger: Logger) async throws {

        var environment = try DeploymentEnvironment(ProcessInfo.processInfo.environment.merging(settings) { _, new in new })
        environment.sessionTimeoutMilliseconds = 6000
        let input = try DevGraphs.requireInput(for: graph)
        if let autoApprove {
            console.say("Running \(autoApprove) \(graph) threads unattended...")
            let progress = LoadProgress()
            let driver = LoadDriver(producer: environment.producerConfiguration(), consumer: environment.consumerConfiguration(groupID: "driver"), topics: topics, logger: logger)
            let report = try await withThrowingTaskGroup(of: LoadDriver.Report?.self) { group in
                group.addTask { try await driver.run(count: autoApprove, graph: graph, rate: rate, input: input, progress: progress) }
                group.addTask {
                    await ProgressLine(total: autoApprove, progress: progress, writer: console.out).show()
                    return nil
                }
                var report: LoadDriver.Report?
                while let next = try await group.next() {
                    if let next {
                        report = next
                        group.cancelAll()
                    }
                }
                guard let report else { throw DemoError("the load driver ended without a report") }
                return report
            }
            console.say(report.line)
            console.say("workers: \(workers), partitions: \(partitions), brokers: \(brokers)")
        } else {
            let producer = try KafkaProducer(configuration: environment.producerConfiguration(), logger: logger)
            let client = CommandClient(producer: producer, topics: topics)
            let people = ["ana", "bo", "chen", "dara", "eli", "fay"]
            for i in 0..<runs {
                let name = people[i % people.count]
                try await client.send(CommandMessage(
                    id: "dev-run-\(UUID().uuidString.lowercased())", threadID: "dev-\(name)-\(i)",
                    body: .run(graph: graph, input: input(name), config: nil, ifBusy: .reject)))
            }
            for i in 0..<toolReviews {
                let question = i % 2 == 0 ? "What is the weather in Lisbon?" : "What is 6 * 7?"
                let messages = try JSONValue(encoding: ToolReviewState(question: question).messages)
                try await client.send(CommandMessage(
                    id: "dev-run-\(UUID().uuidString.lowercased())", threadID: "dev-tools-\(i)",
                    body: .run(graph: ToolReviewExample.name, input: ["messages": messages], config: nil, ifBusy: .reject)))
            }
            await producer.close()
            if runs + toolReviews == 0 {
                console.say("Started no runs (--runs 0): send commands with your own client, using the addresses in .interlude/dev.env.")
            } else {
                console.say("Started \(runs) \(graph) runs\(toolReviews > 0 ? " and \(toolReviews) tool-review runs" : "").")
            }
            if serve {
                console.say("Serving: answer with 'interlude review' in another terminal (set -a; . .interlude/dev.env; set +a first). Ctrl-C stops everything.")
                // The signal handler stops the workers and PostgreSQL and exits.
                while true { try await Task.sleep(for: .seconds(3600)) }
            }
            try await ReviewDesk(environment: environment, logger: logger).interactive(expectedCompletions: runs + toolReviews)
        }
    }
}

/// `interlude review`: the terminal review desk against any deployment.
struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Show pending interrupts from the reviews topic and answer them (publishes resume commands).",
        discussion: "Uses INTERLUDE_KAFKA_BOOTSTRAP_SERVERS and INTERLUDE_TOPIC_PREFIX (and INTERLUDE_KAFKA_* properties). With `interlude dev` running, `set -a; . .interlude/dev.env` points it there."
    )

    @Option(help: "Leave after this many runs completed. Default: stay until stdin ends.")
    var until: Int?

    @OptionGroup var who: ActorOptions

    func run() async throws {
        try await ReviewDesk(environment: try DeploymentEnvironment(), logger: makeLogger("interlude.review"), actor: who.reviewActor)
            .interactive(expectedCompletions: until)
    }
}

/// The live progress of `dev --auto-approve`: on a terminal one line rewriting itself with
/// `\r` twice a second; otherwise a plain line every five seconds (logs stay readable). The
/// rate is over the last five seconds (completions arrive in bursts).
struct ProgressLine {
    let total: Int
    let progress: LoadProgress
    let writer: ConsoleWriter

    /// Shows progress until the task is cancelled, and the final count then.
    func show() async {
        let interval: Duration = writer.isTerminal ? .milliseconds(500) : .seconds(5)
        let clock = ContinuousClock()
        var samples: [(at: ContinuousClock.Instant, completed: Int)] = [(clock.now, 0)]
        while true {
            let cancelled = (try? await clock.sleep(for: interval)) == nil
            let now = clock.now
            let completed = progress.completed
            samples.append((now, completed))
            while samples.count > 2, now - samples[1].at >= .seconds(5) { samples.removeFirst() }
            let elapsed = now - samples[0].at
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = Double(completed - samples[0].completed) / max(seconds, 1e-9)
            writer.status(String(format: "progress: %d/%d completed, %d in flight, %.0f runs/s", completed, total, progress.started - completed, rate))
            if cancelled { return }
        }
    }
}
