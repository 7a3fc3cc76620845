#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for one directory.
#
#   scripts/pg-server.sh start DIR    create (first time) and start the cluster of DIR; print its URL
#   scripts/pg-server.sh stop DIR     stop the cluster of DIR (its files are kept)
#   scripts/pg-server.sh url DIR      print the URL of the cluster of DIR
#   scripts/pg-server.sh home DIR     print the folder holding the cluster's files
#   scripts/pg-server.sh status DIR   print "running PID" or "stopped"
#
# The cluster's home holds data/ (the cluster), socket/ (unix socket), password (the
# superuser's password), url (a postgres:// URL for 127.0.0.1), server.log and initdb.log.
# The home is DIR itself, unless the server's owner cannot reach DIR (see below); DIR/url
# always holds the URL.
#
# The server refuses to run as root, so when run as root the cluster belongs to the `postgres`
# user. That user often cannot reach DIR: a checkout under /root (mode 0700) or a folder made
# by mktemp. Then the home is a folder of its own under $INTERLUDE_PG_HOME (default /var/tmp),
# named after DIR's path (interlude-pg-<checksum>) and owned by postgres, and DIR/home names it.
#
# At start, a cluster of DIR still running from an earlier run (a killed `interlude dev`) is
# stopped first, with a message on stderr saying so.
# TCP connections on 127.0.0.1 need a password (scram-sha-256), so tests can check that wrong
# passwords are refused; the unix socket trusts local users.
# Durability is off (initdb --no-sync, fsync=off): for tests and `interlude dev` only.
set -euo pipefail

usage() { echo "usage: $0 start|stop|url|home|status DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
command=$1
dir=$2
# Absolute, since the server binaries run from / (see as_owner).
if [[ -d "$dir" ]]; then dir=$(cd "$dir" && pwd); fi

fail() { echo "pg-server.sh: $*" >&2; exit 1; }

if [[ -n "${PG_BINDIR:-}" ]]; then
    bindir=$PG_BINDIR
elif command -v pg_config > /dev/null 2>&1; then
    bindir=$(pg_config --bindir)
else
    bindir=""
fi
if [[ -z "$bindir" || ! -x "$bindir/pg_ctl" ]]; then
    # Debian's pg_config (libpq-dev) may point at a folder without the server binaries.
    candidate=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1 || true)
    [[ -n "$candidate" && -x "$candidate/pg_ctl" ]] \
        || fail "no PostgreSQL server binaries (pg_ctl, initdb) found; run scripts/install-deps.sh or set PG_BINDIR"
    bindir=$candidate
fi

root=0
[[ $(id -u) -eq 0 ]] && root=1

# Runs a server binary as the cluster owner: the postgres user when we are root, from / (the
# current folder may be one it cannot enter, and pg_ctl complains).
as_owner() {
    if [[ $root -eq 1 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# The folder holding the cluster's files for DIR (DIR must exist).
home_of() {
    if [[ -f "$dir/home" ]]; then cat "$dir/home"; else echo "$dir"; fi
}

# A port on 127.0.0.1 nobody listens on (bash's /dev/tcp: no python or netcat needed).
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
            echo "$port"
            return 0
        fi
    done
    fail "found no free port on 127.0.0.1"
}

# The postmaster's pid when the cluster in HOME is running, else nothing.
running_pid() {
    local home=$1
    [[ -f "$home/data/postmaster.pid" ]] || return 0
    if as_owner "$bindir/pg_ctl" --pgdata="$home/data" status > /dev/null 2>&1; then
        head -n 1 "$home/data/postmaster.pid"
    fi
}

# Picks the home for a new cluster: DIR when its owner can reach it, else a folder under
# $INTERLUDE_PG_HOME owned by postgres (recorded in DIR/home).
choose_home() {
    if [[ $root -eq 0 ]]; then
        echo "$dir"
        return
    fi
    id postgres > /dev/null 2>&1 \
        || fail "running as root, but there is no 'postgres' user to own the server (PostgreSQL refuses to run as root): install the server package (scripts/install-deps.sh) or run as a normal user"
    if runuser -u postgres -- test -x "$(dirname "$dir")" 2> /dev/null; then
        echo "$dir"
        return
    fi
    local base=${INTERLUDE_PG_HOME:-/var/tmp}
    local home
    home="$base/interlude-pg-$(printf '%s' "$dir" | cksum | cut -d ' ' -f 1)"
    mkdir -p "$home" 2> /dev/null && chown postgres: "$home" && chmod 0700 "$home" \
        && runuser -u postgres -- test -w "$home" 2> /dev/null \
        || fail "the postgres user cannot reach $dir (a parent folder is private, e.g. /root is 0700) and $home cannot be made for it: set INTERLUDE_PG_HOME to a folder the postgres user can reach, or move the checkout under a folder others can enter (chmod o+x on its parents)"
    echo "$home" > "$dir/home"
    echo "pg-server.sh: the postgres user cannot reach $dir (a parent folder is private): the cluster lives in $home" >&2
    echo "$home"
}

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local home
    home=$(home_of)
    if [[ ! -f "$home/data/PG_VERSION" ]]; then
        rm -f "$dir/home"
        home=$(choose_home)
        rm -rf "$home/data" "$home/socket"
        mkdir -p "$home/data" "$home/socket"
        # A random superuser password; hex keeps it URL-safe.
        od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$home/password"
        chmod 0600 "$home/password"
        if [[ $root -eq 1 ]]; then
            chown -R postgres: "$home"
            # The postgres user must be able to enter the home (mktemp makes it 0700 root).
            [[ "$home" == "$dir" ]] && chmod 0755 "$home"
        fi
        as_owner "$bindir/initdb" --no-sync --pgdata="$home/data" --username=postgres \
            --pwfile="$home/password" --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C > "$home/initdb.log" 2>&1 \
            || { cat "$home/initdb.log" >&2; fail "initdb failed (log above, also in $home/initdb.log)"; }
        local port
        port=$(free_port)
        as_owner tee -a "$home/data/postgresql.conf" > /dev/null << CONF
# throwaway cluster settings (scripts/pg-server.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$home/socket'
fsync = off
synchronous_commit = off
full_page_writes = off
# The test suites run in parallel, each with its own pools and worker processes.
max_connections = 400
CONF
        echo "postgres://postgres:$(cat "$home/password")@127.0.0.1:$port/postgres" > "$home/url"
        chmod 0600 "$home/url"
    fi
    if [[ "$home" != "$dir" ]]; then
        cp "$home/url" "$dir/url"
        chmod 0600 "$dir/url"
    fi
    local stale
    stale=$(running_pid "$home")
    if [[ -n "$stale" ]]; then
        echo "pg-server.sh: the cluster in $home is still running from an earlier run (postmaster pid $stale): stopping it first" >&2
        as_owner "$bindir/pg_ctl" --pgdata="$home/data" --wait --silent --mode=fast stop > /dev/null 2>&1 || true
    fi
    # The port was free when chosen, but any process may take it before the server binds it
    # (an outgoing connection's local port, another test's listener): then move to another one.
    local attempt
    for attempt in 1 2 3 4 5; do
        : > "$home/server.log"
        [[ $root -eq 1 ]] && chown postgres: "$home/server.log"
        if as_owner "$bindir/pg_ctl" --pgdata="$home/data" --log="$home/server.log" --wait --silent start > /dev/null; then
            cat "$home/url"
            return 0
        fi
        grep -q "could not bind" "$home/server.log" || break
        local port
        port=$(free_port)
        echo "pg-server.sh: the server's port was taken meanwhile; moving it to $port" >&2
        as_owner sed -i "s/^port = .*/port = $port/" "$home/data/postgresql.conf"
        sed -i "s#@127.0.0.1:[0-9]*/#@127.0.0.1:$port/#" "$home/url"
        [[ "$home" != "$dir" ]] && cp "$home/url" "$dir/url"
    done
    tail -n 20 "$home/server.log" >&2
    fail "the server did not start (log above, also in $home/server.log)"
}

stop() {
    [[ -d "$dir" ]] || return 0
    local home
    home=$(home_of)
    [[ -f "$home/data/PG_VERSION" ]] || return 0
    as_owner "$bindir/pg_ctl" --pgdata="$home/data" --wait --silent --mode=fast stop > /dev/null 2>&1 || true
}

status() {
    [[ -d "$dir" ]] || { echo stopped; return 0; }
    local pid
    pid=$(running_pid "$(home_of)")
    if [[ -n "$pid" ]]; then echo "running $pid"; else echo stopped; fi
}

case $command in
    start) start ;;
    stop) stop ;;
    url) cat "$dir/url" ;;
    home) home_of ;;
    status) status ;;
    *) usage ;;
esac
