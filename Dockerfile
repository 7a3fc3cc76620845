# Builds the `interlude` executable (worker, review desk, migrate) for docker-compose.yml and deploy/.
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends librdkafka-dev libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Benchmarks ./Benchmarks
COPY Tests ./Tests
COPY schemas ./schemas
RUN swift build -c release --product interlude --static-swift-stdlib

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends librdkafka1 libpq5 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/.build/release/interlude /usr/local/bin/interlude
USER 65534:65534
ENTRYPOINT ["interlude"]
CMD ["worker"]
