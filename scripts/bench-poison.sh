#!/usr/bin/env bash
# make bench-poison: how fast a worker moves past a flood of poison with one key. It starts
# `interlude dev --serve` (one worker, one partition) and, with Python's confluent-kafka, sends
# POISON_MESSAGES undecodable messages with one key to the runs partition and one valid run
# behind them, then prints the time until that run's question appears on the reviews topic and
# the time per poison message. Messages with one key go one per batch and each dead letter is
# awaited before its offset is stored, so this is the dead-letter path's cost per message.
#
#   scripts/bench-poison.sh                  2,000 poison messages, three times
#   POISON_MESSAGES=10000 scripts/bench-poison.sh
#
# Needs a release build and python3 with confluent-kafka.
set -euo pipefail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
require_binary bench-poison
require_confluent_kafka bench-poison

messages=${POISON_MESSAGES:-2000}
devlog=.interlude/poison-dev.log
dev_pid=""
trap '[[ -n "$dev_pid" ]] && kill -INT "$dev_pid" 2> /dev/null && wait "$dev_pid" 2> /dev/null || true' EXIT
start_dev_serve bench-poison "$devlog" --workers 1 --runs 1 --partitions 1

for _ in 1 2 3; do
    python3 - "$messages" "$INTERLUDE_KAFKA_BOOTSTRAP_SERVERS" "$INTERLUDE_TOPIC_PREFIX" <<'PY'
import json, sys, time, uuid
from confluent_kafka import Consumer, Producer
count, servers, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
producer = Producer({"bootstrap.servers": servers, "linger.ms": 20})
reviews = Consumer({"bootstrap.servers": servers, "group.id": f"bench-poison-{uuid.uuid4().hex}", "auto.offset.reset": "latest"})
reviews.subscribe([prefix + "reviews"])
while not reviews.assignment():
    reviews.poll(0.2)
time.sleep(1)  # the assignment's starting offset is fixed before anything is sent
thread = f"poison-bench-{uuid.uuid4().hex[:8]}"
run = {"type": "run", "schema_version": 1, "id": f"run-{thread}", "thread_id": thread,
       "created_at": "2026-01-01T00:00:00Z", "graph": "approval", "input": {"subject": "s"}}
start = time.monotonic()
for i in range(count):
    producer.produce(prefix + "runs", key=b"one-poison-key", value=b"not json %d" % i, partition=0)
producer.produce(prefix + "runs", key=thread.encode(), value=json.dumps(run).encode(), partition=0)
producer.flush(30)
deadline = start + 60 + count / 100
while time.monotonic() < deadline:
    m = reviews.poll(0.2)
    if m is not None and not m.error() and json.loads(m.value()).get("thread_id") == thread:
        took = time.monotonic() - start
        print(f"{count} poison messages with one key, then a valid run: its question after {took:.2f} s ({took / count * 1000:.2f} ms per poison message)")
        break
else:
    sys.exit(f"bench-poison: the valid run's question did not come within {deadline - start:.0f} s")
reviews.close()
PY
done
