#!/usr/bin/env bash
# Placeholder until the PostgreSQL issue lands: runs the command as is.
exec "$@"
