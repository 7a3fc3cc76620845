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

clean:
	rm -rf .build .interlude
