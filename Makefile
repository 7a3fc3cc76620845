# Interlude: the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: deps build test demo bench bench-e2e chaos clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

# Starts a throwaway PostgreSQL for the run (the Kafka tests start librdkafka's mock
# cluster in process), runs every test, and stops the server again.
test: deps
	scripts/with-test-postgres.sh $(SWIFT) test --disable-xctest

# The main job on the embedded default: a throwaway PostgreSQL, librdkafka's mock Kafka
# cluster, two workers and the example approval graph, reviewed in this terminal.
demo: deps
	$(SWIFT) build --product interlude
	.build/debug/interlude dev

# Runs Benchmarks/InterludeBenchmarks in release (the plugin builds release by default),
# with a throwaway PostgreSQL for the PostgreSQL figures; see BENCHMARKS.md.
bench: deps
	scripts/with-test-postgres.sh $(SWIFT) package --disable-sandbox benchmark --target InterludeBenchmarks

# The end-to-end load: approval runs through Kafka (embedded cluster), PostgreSQL and worker
# processes, with 1 and then 2 workers, in release.
E2E_RUNS ?= 2000
bench-e2e: deps
	$(SWIFT) build -c release --product interlude
	.build/release/interlude dev --auto-approve $(E2E_RUNS) --workers 1 --partitions 8
	.build/release/interlude dev --auto-approve $(E2E_RUNS) --workers 2 --partitions 8

# The fault tests at a larger scale than CI (kill -9, PostgreSQL restart, SIGSTOP past the
# session timeout, broker down, rebalance storm, replay from offset 0); writes the table of
# RELIABILITY.md. CHAOS_RUNS (default 2000) runs per fault; CHAOS_FILTER picks faults.
chaos: deps
	CHAOS_RUNS=$(CHAOS_RUNS) CHAOS_FILTER='$(CHAOS_FILTER)' scripts/chaos.sh

clean:
	rm -rf .build .interlude
