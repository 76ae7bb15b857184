#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432. Start the local cluster if it is down.
# Never skip: if no PostgreSQL can be had, say so loudly and fail.
set -euo pipefail
HOST=127.0.0.1
PORT=5432

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if ! command -v pg_isready >/dev/null; then
  echo "FATAL: PostgreSQL client tools are not installed (no pg_isready)." >&2
  echo "       Install PostgreSQL (apt-get install postgresql) so the suite can run on it." >&2
  exit 1
fi

if ready; then
  echo "==> PostgreSQL answers on $HOST:$PORT"
  exit 0
fi

echo "==> PostgreSQL is down on $HOST:$PORT; starting it with pg_ctlcluster"
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
for _ in $(seq 1 30); do
  if ready; then
    echo "==> PostgreSQL started"
    exit 0
  fi
  sleep 1
done
echo "FATAL: PostgreSQL could not be reached on $HOST:$PORT, and starting it failed." >&2
echo "       The suite must run on PostgreSQL too; it will not be skipped." >&2
exit 1
