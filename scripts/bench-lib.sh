# Shared by the bench scripts (sourced): moves to the repository root and picks the binary.
#   INTERLUDE_BINARY   the interlude executable to measure (default .build/release/interlude)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
binary=${INTERLUDE_BINARY:-.build/release/interlude}

# Exits with a message naming the script ($1) when the binary is missing.
require_binary() {
    [[ -x "$binary" ]] || { echo "$1: $binary is missing; run 'swift build -c release --product interlude' first" >&2; exit 1; }
}

# Exits with a message naming the script ($1) when python3 cannot import confluent_kafka.
require_confluent_kafka() {
    python3 -c 'import confluent_kafka' 2> /dev/null || { echo "$1: python3 cannot import confluent_kafka; run 'pip install confluent-kafka'" >&2; exit 1; }
}

# Starts `interlude dev --serve` with the arguments after the first two ($1: the script's name
# for messages, $2: its log file) in the background, sets dev_pid, waits until it serves
# (at most 120 s), then exports .interlude/dev.env (its brokers, PostgreSQL URL, topic prefix).
# The caller stops it: `kill -INT "$dev_pid"` (dev then stops what it started).
start_dev_serve() {
    local name=$1 log=$2
    shift 2
    mkdir -p .interlude
    "$binary" dev --serve "$@" > "$log" 2>&1 < /dev/null &
    dev_pid=$!
    for _ in $(seq 600); do
        grep -q '^Serving' "$log" && break
        kill -0 "$dev_pid" 2> /dev/null || { echo "$name: interlude dev exited; see $log" >&2; exit 1; }
        sleep 0.2
    done
    grep -q '^Serving' "$log" || { echo "$name: interlude dev did not start within 120 s; see $log" >&2; exit 1; }
    set -a
    # shellcheck disable=SC1091
    . .interlude/dev.env
    set +a
}
