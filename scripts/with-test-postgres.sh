#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server for the tests:
#
#   scripts/with-test-postgres.sh swift test --disable-xctest
#
# Starts a fresh cluster in a temporary directory (scripts/pg-server.sh), exports
#   INTERLUDE_TEST_DATABASE_URL  postgres:// URL of the server (superuser, 127.0.0.1)
#   INTERLUDE_TEST_PG_BINDIR     the server binaries (pg_ctl), so tests can restart it
#   INTERLUDE_TEST_PG_DATADIR    the cluster's data directory
# runs the command, then stops the server, deletes the directory and exits with the
# command's status. When INTERLUDE_TEST_DATABASE_URL is already set, that server is used and
# nothing is started.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

if [[ -n "${INTERLUDE_TEST_DATABASE_URL:-}" ]]; then
    exec "$@"
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/interlude-pg.XXXXXX")

cleanup() {
    "$here/pg-server.sh" stop "$dir" || true
    # The cluster may live in a folder of its own when the postgres user cannot reach $dir.
    home=$("$here/pg-server.sh" home "$dir" 2> /dev/null || true)
    [[ -n "$home" && "$home" != "$dir" ]] && rm -rf "$home"
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url=$("$here/pg-server.sh" start "$dir")
export INTERLUDE_TEST_DATABASE_URL=$url
export INTERLUDE_TEST_PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir)}
export INTERLUDE_TEST_PG_DATADIR=$("$here/pg-server.sh" home "$dir")/data

status=0
"$@" || status=$?
exit $status
