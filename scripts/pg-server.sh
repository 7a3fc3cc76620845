#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster kept entirely inside one directory.
#
#   scripts/pg-server.sh start DIR   create (first time) and start a cluster in DIR; print its URL
#   scripts/pg-server.sh stop DIR    stop the cluster in DIR (the directory is kept)
#   scripts/pg-server.sh url DIR     print the URL of the cluster in DIR
#
# Layout of DIR: data/ (the cluster), socket/ (unix socket), password (the superuser's
# password), url (a postgres:// URL for 127.0.0.1), server.log.
# The server refuses to run as root, so when run as root the cluster belongs to the
# `postgres` user. TCP connections on 127.0.0.1 need a password (scram-sha-256), so tests can
# check that wrong passwords are refused; the unix socket in DIR/socket trusts local users.
# Durability is off (initdb --no-sync, fsync=off): for tests and `interlude dev` only.
set -euo pipefail

usage() { echo "usage: $0 start|stop|url DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
command=$1
dir=$2

bindir=${PG_BINDIR:-$(pg_config --bindir)}

# Runs a server binary as the cluster owner: the postgres user when we are root.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A port on 127.0.0.1 nobody listens on (bash's /dev/tcp: no python or netcat needed).
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "pg-server.sh: found no free port on 127.0.0.1" >&2
    return 1
}

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        mkdir -p "$dir/data" "$dir/socket"
        # A random superuser password; hex keeps it URL-safe.
        od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$dir/password"
        chmod 0600 "$dir/password"
        if [[ $(id -u) -eq 0 ]]; then
            chown -R postgres: "$dir"
            # The postgres user must be able to reach DIR (mktemp makes it 0700 root).
            chmod 0755 "$dir"
        fi
        as_owner "$bindir/initdb" --no-sync --pgdata="$dir/data" --username=postgres \
            --pwfile="$dir/password" --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C > "$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
        local port
        port=$(free_port)
        as_owner tee -a "$dir/data/postgresql.conf" > /dev/null <<CONF
# throwaway cluster settings (scripts/pg-server.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
CONF
        echo "postgres://postgres:$(cat "$dir/password")@127.0.0.1:$port/postgres" > "$dir/url"
        chmod 0600 "$dir/url"
    fi
    as_owner "$bindir/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --silent start \
        || { tail -n 20 "$dir/server.log" >&2; exit 1; }
    cat "$dir/url"
}

stop() {
    [[ -f "$dir/data/PG_VERSION" ]] || return 0
    as_owner "$bindir/pg_ctl" --pgdata="$dir/data" --wait --silent --mode=fast stop || true
}

case $command in
    start) start ;;
    stop) stop ;;
    url) cat "$dir/url" ;;
    *) usage ;;
esac
