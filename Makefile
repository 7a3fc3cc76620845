# Interlude: the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift

.PHONY: deps build test demo bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

# Starts a throwaway PostgreSQL for the run (the Kafka tests start librdkafka's mock
# cluster in process), runs every test, and stops the server again.
test: deps
	scripts/with-test-postgres.sh $(SWIFT) test --disable-xctest

demo: deps
	$(SWIFT) run interlude demo

# Runs Benchmarks/InterludeBenchmarks in release (the plugin builds release by default);
# see BENCHMARKS.md for the figures and how to read them.
bench: deps
	$(SWIFT) package --disable-sandbox benchmark --target InterludeBenchmarks

clean:
	rm -rf .build .interlude
