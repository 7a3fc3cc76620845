#!/usr/bin/env bash
# make bench-hop: the latency the embedded Kafka cluster adds by itself, with no worker and no
# PostgreSQL: a message produced to one topic, read and produced again to a second topic at
# once, and read from there (the two hops of a resume -> completed round trip).
#
#   scripts/bench-hop.sh                      400 messages at 20 per second, for each profile
#   HOP_MESSAGES=1000 scripts/bench-hop.sh
#
# It starts `interlude dev --serve` (for its embedded cluster) and drives it with Python's
# confluent-kafka (its own librdkafka; the brokers are librdkafka 2.0.2's mock cluster), once
# with the defaults of `interlude worker` (fetch.wait.max.ms 5, linger.ms 1) and once with the
# low-latency profile (fetch.wait.max.ms 1, linger.ms 0), and prints, per profile, the
# milliseconds from produce to the first read (one hop) and to the echo's read (two hops):
# p50, p90, p99 and the largest. Needs a release build and python3 with confluent-kafka.
set -euo pipefail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
require_binary bench-hop

messages=${HOP_MESSAGES:-400}
require_confluent_kafka bench-hop

devlog=.interlude/hop-dev.log
dev_pid=""
trap '[[ -n "$dev_pid" ]] && kill -INT "$dev_pid" 2> /dev/null && wait "$dev_pid" 2> /dev/null || true' EXIT
start_dev_serve bench-hop "$devlog" --workers 1 --runs 1 --partitions 1

for profile in "5 1" "1 0"; do
    read -r fetch_wait linger <<< "$profile"
    python3 - "$messages" "$INTERLUDE_KAFKA_BOOTSTRAP_SERVERS" "$fetch_wait" "$linger" <<'PY'
import sys, threading, time, uuid
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
count, servers, fetch_wait, linger = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
run = uuid.uuid4().hex[:8]
first, second = f"bench.hop.{run}.a", f"bench.hop.{run}.b"

def producer():
    return Producer({"bootstrap.servers": servers, "linger.ms": linger, "enable.idempotence": True})

def consumer(topic):
    c = Consumer({"bootstrap.servers": servers, "group.id": f"bench-hop-{uuid.uuid4().hex}", "enable.auto.commit": False,
                  "fetch.wait.max.ms": fetch_wait, "enable.partition.eof": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    return c

# The topics exist (the mock creates them on first use) and every client is connected
# before the clock starts: one warm-up message through both hops.
source, echo_out = producer(), producer()
for p, topic in ((source, first), (echo_out, second)):
    p.produce(topic, b"warm-up", partition=0)
    p.flush(10)
echo_in, sink = consumer(first), consumer(second)
one_hop, two_hops = [], []
done = threading.Event()

def echo():
    while not done.is_set():
        m = echo_in.poll(0.1)
        if m is None or m.error():
            continue
        if m.value() != b"warm-up":
            one_hop.append(time.perf_counter_ns() - int(m.value()))
        echo_out.produce(second, m.value(), partition=0)
        echo_out.poll(0)

thread = threading.Thread(target=echo, daemon=True)
thread.start()
received = 0
deadline = time.monotonic() + 30
while received < 2 and time.monotonic() < deadline:  # both warm-up messages
    m = sink.poll(0.1)
    if m is not None and not m.error():
        received += 1
sent = 0
next_send = time.perf_counter()
while len(two_hops) < count and time.monotonic() < deadline + count / 20 + 30:
    if sent < count and time.perf_counter() >= next_send:
        source.produce(first, str(time.perf_counter_ns()).encode(), partition=0)
        source.poll(0)
        sent += 1
        next_send += 1 / 20
    m = sink.poll(0.001)
    if m is not None and not m.error() and m.value() != b"warm-up":
        two_hops.append(time.perf_counter_ns() - int(m.value()))
done.set()
thread.join()
for p in (source, echo_out):
    p.flush(5)

def line(name, values):
    v = sorted(x / 1e6 for x in values)
    q = lambda p: v[min(len(v) - 1, int(len(v) * p))]
    return f"{name} p50 {q(.5):.2f} ms, p90 {q(.9):.2f}, p99 {q(.99):.2f}, max {v[-1]:.2f}"
if len(two_hops) < count:
    sys.exit(f"bench-hop: {len(two_hops)} of {count} messages came back")
print(f"hop (fetch.wait.max.ms {fetch_wait}, linger.ms {linger}, {count} messages at 20/s): "
      f"{line('one hop', one_hop)}; {line('two hops', two_hops)}")
PY
done
