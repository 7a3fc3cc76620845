#!/usr/bin/env bash
# make chaos: the fault tests at a larger scale than CI, against real worker processes, the
# mock Kafka cluster and a throwaway PostgreSQL, writing the table of RELIABILITY.md.
#
#   scripts/chaos.sh                      every fault, 2,000 runs each
#   CHAOS_RUNS=500 scripts/chaos.sh       smaller
#   CHAOS_FILTER=killNine scripts/chaos.sh   one fault (a Swift Testing filter)
#
# Each fault test (Tests/EndToEndTests/ChaosTests.swift, RebalanceStormTests.swift) appends
# one row to the file named by INTERLUDE_CHAOS_REPORT; this script puts the rows into
# RELIABILITY.md between its table markers (a filtered run replaces only its faults' rows).
# The faults run one at a time (--no-parallel): a PostgreSQL restart must not land in another
# fault's load. Takes about 10-15 minutes on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

runs=${CHAOS_RUNS:-2000}
filter=${CHAOS_FILTER:-"ChaosTests|RebalanceStormTests"}
report=$(mktemp "${TMPDIR:-/tmp}/interlude-chaos.XXXXXX")
trap 'rm -f "$report"' EXIT

swift build --build-tests
started=$(date -u +%Y-%m-%dT%H:%MZ)
status=0
INTERLUDE_CHAOS_REPORT=$report INTERLUDE_CHAOS_RUNS=$runs INTERLUDE_STORM_RUNS=$runs \
    "$here/with-test-postgres.sh" swift test --disable-xctest --no-parallel --skip-build --filter "$filter" || status=$?

if [[ ! -s "$report" ]]; then
    echo "chaos: no fault test reported a row (filter '$filter'); RELIABILITY.md is unchanged" >&2
    exit $(( status == 0 ? 1 : status ))
fi

rows=$(cat "$report")
note="Measured $started on $(nproc) cores, $runs runs per fault, commit $(git rev-parse --short HEAD); tests $( [[ $status -eq 0 ]] && echo passed || echo FAILED, status $status)."
python3 - "$root/RELIABILITY.md" "$note" "$rows" <<'PY'
import sys
path, note, rows = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
begin, end = "<!-- chaos table begin -->", "<!-- chaos table end -->"
head = "| fault | runs started | completed | lost | applied twice | dead-lettered | rejected | reproduce |\n|---|---|---|---|---|---|---|---|\n"
a, b = text.index(begin) + len(begin), text.index(end)
# A run of some faults (CHAOS_FILTER) replaces their rows and keeps the others' rows and notes.
def key(row): return row.rstrip(" |").rsplit("|", 1)[-1].strip()
fresh = [r for r in rows.strip().splitlines() if r.startswith("|")]
keys = {key(r) for r in fresh}
old = [l for l in text[a:b].splitlines() if l.startswith("| ") and not l.startswith("| fault ")]
kept = [r for r in old if key(r) not in keys]
notes = [l for l in text[a:b].split("\n\n")[0].strip().splitlines() if l and not l.startswith("|")] if kept else []
table = "\n".join(kept + fresh)
lines = "\n".join(notes + [("Rows re-measured: " if kept else "") + note])
open(path, "w").write(text[:a] + "\n" + lines + "\n\n" + head + table + "\n" + text[b:])
PY
echo "chaos: RELIABILITY.md updated"
cat "$report"
exit $status
