# Interlude: the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: deps test-deps build test demo bench bench-e2e bench-backlog bench-hop bench-poison chaos clean

deps:
	@scripts/install-deps.sh

# What only the tests need on top: tmux, Python's venv, Chromium and chromedriver.
test-deps:
	@scripts/install-deps.sh --test

build: deps
	$(SWIFT) build

# Starts a throwaway PostgreSQL for the run (the Kafka tests start librdkafka's mock
# cluster in process), runs every test, and stops the server again. One test at a time: the
# end-to-end suites each run worker processes, a mock cluster and PostgreSQL backends, and on
# 2 cores several of them at once starve the consumer-group heartbeats they depend on.
test: test-deps
	scripts/with-test-postgres.sh $(SWIFT) test --disable-xctest --no-parallel

# The main job on the embedded default: a throwaway PostgreSQL, librdkafka's mock Kafka
# cluster, two workers and the example approval graph, reviewed in this terminal. Ctrl-C (or
# closing the terminal) stops the workers and PostgreSQL; nothing is left running.
demo: deps
	$(SWIFT) build --product interlude
	.build/debug/interlude dev

# Runs the benchmark package in Benchmarks/ (its own Package.swift, so users of the library never
# resolve package-benchmark) in release (the plugin builds release by default), with a
# throwaway PostgreSQL for the PostgreSQL figures; see BENCHMARKS.md.
bench: deps
	cd Benchmarks && ../scripts/with-test-postgres.sh $(SWIFT) package --disable-sandbox benchmark --target InterludeBenchmarks

# The end-to-end load: approval runs through Kafka (embedded cluster), PostgreSQL and worker
# processes, with 1 and then 2 workers, in release; prints the load before each run and the
# PostgreSQL round trips per command (scripts/bench-e2e.sh).
E2E_RUNS ?= 2000
bench-e2e: deps
	$(SWIFT) build -c release --product interlude
	E2E_RUNS=$(E2E_RUNS) scripts/bench-e2e.sh

# One worker's memory (VmRSS, VmHWM) while it drains BACKLOG_RUNS runs queued before it started
# (scripts/bench-backlog.sh; needs python3 with confluent-kafka).
BACKLOG_RUNS ?= 10000
bench-backlog: deps
	$(SWIFT) build -c release --product interlude
	BACKLOG_RUNS=$(BACKLOG_RUNS) scripts/bench-backlog.sh

# The latency the embedded Kafka cluster adds by itself (no worker, no PostgreSQL): one hop and
# two hops (produce, read and produce again, read), with the worker's default settings and with
# the low-latency profile (scripts/bench-hop.sh; needs python3 with confluent-kafka).
HOP_MESSAGES ?= 400
bench-hop: deps
	$(SWIFT) build -c release --product interlude
	HOP_MESSAGES=$(HOP_MESSAGES) scripts/bench-hop.sh

# How fast a worker moves past a flood of poison with one key: POISON_MESSAGES undecodable
# messages on one partition, then a valid run (scripts/bench-poison.sh; needs python3 with
# confluent-kafka).
POISON_MESSAGES ?= 2000
bench-poison: deps
	$(SWIFT) build -c release --product interlude
	POISON_MESSAGES=$(POISON_MESSAGES) scripts/bench-poison.sh

# The fault tests at a larger scale than CI (kill -9, PostgreSQL restart, SIGSTOP past the
# session timeout, broker down, rebalance storm, replay from offset 0); writes the table of
# RELIABILITY.md. CHAOS_RUNS (default 2000) runs per fault; CHAOS_FILTER picks faults.
chaos: deps
	CHAOS_RUNS=$(CHAOS_RUNS) CHAOS_FILTER='$(CHAOS_FILTER)' scripts/chaos.sh

clean:
	scripts/pg-server.sh stop .interlude/pg 2>/dev/null || true
	rm -rf .build .interlude Benchmarks/.build
