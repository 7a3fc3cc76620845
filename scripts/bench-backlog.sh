#!/usr/bin/env bash
# make bench-backlog: one worker's memory while it drains a backlog of approval runs.
#
#   scripts/bench-backlog.sh                 10,000 runs queued before the worker starts
#   BACKLOG_RUNS=2000 scripts/bench-backlog.sh
#
# 1. `interlude dev --serve --workers 1 --runs 1` starts PostgreSQL, the embedded Kafka cluster
#    and one worker; the script stops that worker (SIGTERM, a graceful exit), so no worker is
#    left in the group.
# 2. BACKLOG_RUNS `run` commands of the approval graph are produced to the runs topic (Python's
#    confluent-kafka, the client the project's Python package uses), each a new thread.
# 3. A new `interlude worker` starts with the same settings (.interlude/dev.env) and drains the
#    backlog: every run reaches its review question. The script samples the worker's VmRSS
#    from /proc/PID/status every 0.2 s and reads VmHWM (peak RSS) at the end, and counts
#    settled commands from the worker's /metrics.
# Prints one line: commands settled, seconds to drain, RSS once the worker's endpoints answer
# (started, the backlog not yet taken), peak RSS (VmHWM), largest sample, RSS at the end.
# Needs a release build (`swift build -c release --product interlude`) and python3 with
# confluent-kafka (`pip install confluent-kafka`).
set -euo pipefail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
require_binary bench-backlog

runs=${BACKLOG_RUNS:-10000}
require_confluent_kafka bench-backlog

devlog=.interlude/backlog-dev.log
workerlog=.interlude/backlog-worker.log
dev_pid=""
worker_pid=""
cleanup() {
    [[ -n "$worker_pid" ]] && kill -TERM "$worker_pid" 2> /dev/null && wait "$worker_pid" 2> /dev/null || true
    # dev stops what it started (its console, PostgreSQL) on SIGINT.
    [[ -n "$dev_pid" ]] && kill -INT "$dev_pid" 2> /dev/null && wait "$dev_pid" 2> /dev/null || true
}
trap cleanup EXIT

start_dev_serve bench-backlog "$devlog" --workers 1 --runs 1 --partitions 8

# Stop dev's own worker, so the backlog builds up with no worker in the group.
for pid in $(cat .interlude/workers.pid); do
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q ' worker'; then
        kill -TERM "$pid"
        # dev does not wait for it, so it stays a zombie once it exited.
        while kill -0 "$pid" 2> /dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2> /dev/null; do sleep 0.1; done
    fi
done

python3 - "$runs" "$INTERLUDE_KAFKA_BOOTSTRAP_SERVERS" "${INTERLUDE_TOPIC_PREFIX}runs" <<'PY'
import json, sys, uuid, datetime
from confluent_kafka import Producer
count, servers, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True, "linger.ms": 5})
batch = uuid.uuid4().hex[:8]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
failed = []
for i in range(count):
    thread = f"backlog-{batch}-{i}"
    command = {"type": "run", "schema_version": 1, "id": f"run-{thread}", "thread_id": thread, "created_at": now,
               "graph": "approval", "input": {"recipient": f"{thread}@example.com", "subject": "the backlog"}, "if_busy": "reject"}
    while True:
        try:
            producer.produce(topic, key=thread, value=json.dumps(command), on_delivery=lambda err, msg: err and failed.append(err))
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)
left = producer.flush(60)
if left or failed:
    sys.exit(f"bench-backlog: {left} runs unsent, {len(failed)} failed ({failed[:1]})")
print(f"queued {count} runs on {topic}")
PY

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
INTERLUDE_HTTP_ADDRESS=127.0.0.1:$port "$binary" worker > "$workerlog" 2>&1 < /dev/null &
worker_pid=$!
started=$(date +%s.%N)
first_rss=""
max_rss=0
settled=0
rss_kb() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$worker_pid/status"; }
while kill -0 "$worker_pid" 2> /dev/null; do
    rss=$(rss_kb VmRSS || echo 0)
    (( rss > max_rss )) && max_rss=$rss
    metrics=$(curl -s "http://127.0.0.1:$port/metrics" 2> /dev/null) || metrics=""
    # The first sample once the worker serves its endpoints: started, before the backlog.
    [[ -z "$first_rss" && -n "$metrics" ]] && first_rss=$rss
    settled=$(awk '/^interlude_commands_total\{/ { sum += $NF } END { printf "%d", sum }' <<< "$metrics")
    (( settled >= runs )) && break
    elapsed=$(echo "$(date +%s.%N) - $started" | bc)
    if (( $(echo "$elapsed > 900" | bc) )); then echo "bench-backlog: the worker settled $settled of $runs runs in 900 s" >&2; exit 1; fi
    sleep 0.2
done
kill -0 "$worker_pid" 2> /dev/null || { echo "bench-backlog: the worker exited; see $workerlog" >&2; worker_pid=""; exit 1; }
seconds=$(echo "$(date +%s.%N) - $started" | bc)
hwm=$(rss_kb VmHWM)
end_rss=$(rss_kb VmRSS)
printf 'backlog: %d commands settled in %.1f s by one worker (%d runs queued); RSS when its endpoints answered %d MiB, peak (VmHWM) %d MiB, largest sample %d MiB, at the end %d MiB\n' \
    "$settled" "$seconds" "$runs" $(( ${first_rss:-0} / 1024 )) $(( hwm / 1024 )) $(( max_rss / 1024 )) $(( end_rss / 1024 ))
