#!/usr/bin/env bash
# make bench-e2e: approval runs end to end (`interlude dev --auto-approve`: the embedded Kafka
# cluster, a throwaway PostgreSQL and worker processes), once per worker count, in release.
#
#   scripts/bench-e2e.sh                       2,000 runs with 1 and then 2 workers
#   E2E_RUNS=5000 E2E_WORKERS="2" scripts/bench-e2e.sh
#
# For each run it prints the machine's load before it (`uptime`), the driver's summary (runs/s,
# resume -> completed latency), and the PostgreSQL round trips per command: the workers log
# their totals when they stop ("worker stopped" with interlude.processed and pg.round_trips),
# and the script divides the sum of round trips by the sum of commands applied. The round trips
# count everything a worker sent to PostgreSQL while it ran: batch loads and commits, marking
# outbox rows published, the deadline, outbox and stall sweeps, and each connection's set-up.
set -euo pipefail
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
require_binary bench-e2e

runs=${E2E_RUNS:-2000}

for workers in ${E2E_WORKERS:-1 2}; do
    echo "load before the run: $(uptime)"
    "$binary" dev --auto-approve "$runs" --workers "$workers" --partitions 8 < /dev/null | grep -E '^(auto-approve|workers):'
    # Each worker log is appended to by every run: its last "worker stopped" line is this run's.
    for i in $(seq "$workers"); do
        grep 'worker stopped' ".interlude/worker-$i.log" | tail -1
    done | awk '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "interlude.processed") p += kv[2]; if (kv[1] == "pg.round_trips") r += kv[2] } }
        END { if (p > 0 && r > 0) printf "postgres: %d round trips for %d commands applied (%.3f per command)\n", r, p, r / p; else print "postgres: the workers logged no round-trip totals" }'
done
