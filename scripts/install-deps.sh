#!/usr/bin/env bash
# Installs the system packages Interlude needs, only when they are missing:
# librdkafka and libpq headers (for the CRdKafka and CLibPQ modules), pkg-config,
# the PostgreSQL server binaries the tests and `interlude dev` start, and tmux (the terminal
# tests run `interlude dev` and `interlude review` in a real pseudo-terminal).
# With --test, also what only the tests need: tmux, Python's venv, Chromium and its driver.
# Uses sudo when not run as root. Safe to run again: it does nothing when all is there.
set -euo pipefail
tests=false
[ "${1:-}" = "--test" ] && tests=true

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if command -v pkg-config >/dev/null 2>&1; then
  pkg-config --exists rdkafka 2>/dev/null || missing+=(librdkafka-dev)
  pkg-config --exists libpq 2>/dev/null || missing+=(libpq-dev)
else
  missing+=(librdkafka-dev libpq-dev)
fi
bindir=""
if command -v pg_config >/dev/null 2>&1; then bindir=$(pg_config --bindir); fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
  # Debian's pg_config (from libpq-dev) points at /usr/lib/postgresql/N/bin; any server there will do.
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
fi
if $tests; then
  # The terminal tests run `interlude dev` and `interlude review` in tmux.
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  # The Python client's interop test and the browser tests build throwaway virtualenvs.
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  # The browser tests (Tests/ConsoleTests) drive Debian's headless Chromium through its
  # chromedriver with selenium, installed by the test into a throwaway Python venv.
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: need root to install ${missing[*]}; run as root or install sudo." >&2
    exit 1
  fi
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
