#!/usr/bin/env bash
# Runs a command against a private, throwaway PostgreSQL server, then stops the server whatever
# happened, exiting with the command's status:
#
#   Tests/postgres.sh swift test --disable-swift-testing
#
# The server runs as an unprivileged user (as root: `postgres` if it exists, else `nobody`;
# otherwise the current user) in a temporary folder, listening on 127.0.0.1 only, on a free
# port between 20000 and 60000. It has one login role, `kiln` (CREATEDB, a random password per
# run, scram-sha-256), and the command sees its admin URL in
# KILN_TEST_POSTGRES_URL=postgresql://kiln:PASSWORD@127.0.0.1:PORT/postgres. Tests that take the
# server away (a restart under a worker) run KILN_TEST_POSTGRES_CTL, a script in the server's
# folder: `$KILN_TEST_POSTGRES_CTL stop|start|restart` (fast shutdown, same port; start does
# nothing when it runs; the server is stopped at the end whatever state a test left it in).
# Needs Debian's `postgresql` package (initdb and pg_ctl under /usr/lib/postgresql/*/bin);
# without it this fails loudly, it never skips.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: Tests/postgres.sh COMMAND [ARGUMENT...]" >&2
  exit 2
fi

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then bindir=$d; fi
done
if [ -z "$bindir" ]; then
  echo "Tests/postgres.sh: PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin); install Debian's postgresql package: apt-get install postgresql" >&2
  exit 1
fi

# Who runs the server: PostgreSQL refuses to run as root.
if [ "$(id -u)" = "0" ]; then
  if id -u postgres >/dev/null 2>&1; then user=postgres; else user=nobody; fi
  if command -v runuser >/dev/null 2>&1; then
    as_user() { (cd "$tmp" && runuser -u "$user" -- "$@"); }
  else
    group=$(id -gn "$user")
    as_user() { (cd "$tmp" && setpriv --reuid="$user" --regid="$group" --init-groups -- "$@"); }
  fi
else
  user=$(id -un)
  as_user() { (cd "$tmp" && "$@"); }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-postgres.XXXXXX")
data="$tmp/data"
started=""

# Stops the server and removes its folder; keeps the exit status of what ran before.
cleanup() {
  local status=$?
  if [ -n "$started" ]; then
    as_user "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" = "0" ]; then chown "$user" "$tmp"; fi
chmod 700 "$tmp"

password=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 32)

# The bootstrap superuser is the server's OS user, with another random password nobody uses.
# The role `kiln` is made in single-user mode before the server listens.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/superuser-pwfile"
if [ "$(id -u)" = "0" ]; then chown "$user" "$tmp/superuser-pwfile"; fi
if ! as_user "$bindir/initdb" -D "$data" --locale=C --encoding=UTF8 --auth-local=scram-sha-256 \
    --auth-host=scram-sha-256 --pwfile="$tmp/superuser-pwfile" >"$tmp/initdb.log" 2>&1; then
  echo "Tests/postgres.sh: initdb failed:" >&2
  cat "$tmp/initdb.log" >&2
  exit 1
fi
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
EOF
if ! echo "CREATE ROLE kiln LOGIN CREATEDB PASSWORD '$password';" |
    as_user "$bindir/postgres" --single -D "$data" -j postgres >"$tmp/single.log" 2>&1; then
  echo "Tests/postgres.sh: could not create the role kiln:" >&2
  cat "$tmp/single.log" >&2
  exit 1
fi

# A free port: a few random ones, each checked before and proven by the server starting on it.
port=""
for _ in 1 2 3 4 5 6 7 8; do
  candidate=$((20000 + RANDOM % 40000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
  if as_user "$bindir/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 -o "-p $candidate" start >/dev/null 2>&1; then
    port=$candidate
    started=yes
    break
  fi
done
if [ -z "$port" ]; then
  echo "Tests/postgres.sh: the PostgreSQL server did not start on any of 8 ports; its log:" >&2
  tail -n 20 "$tmp/server.log" >&2 || true
  exit 1
fi

export KILN_TEST_POSTGRES_URL="postgresql://kiln:$password@127.0.0.1:$port/postgres"

# stop | start | restart for the tests, as the server's user, on the same data folder and port.
if [ "$(id -u)" = "0" ]; then
  if command -v runuser >/dev/null 2>&1; then as="runuser -u $user --"; else as="setpriv --reuid=$user --regid=$(id -gn "$user") --init-groups --"; fi
else
  as=""
fi
cat >"$tmp/ctl" <<EOF
#!/usr/bin/env bash
# Tests/postgres.sh's server: stop, start or restart it (fast shutdown; start on port $port).
set -euo pipefail
cd "$tmp"
case "\${1:-}" in
  stop) exec $as "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop ;;
  start) # nothing to do when it runs
    if $as "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then exit 0; fi
    exec $as "$bindir/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 -o "-p $port" start ;;
  restart) exec $as "$bindir/pg_ctl" -D "$data" -l "$tmp/server.log" -m fast -w -t 60 -o "-p $port" restart ;;
  *) echo "usage: \$0 stop|start|restart" >&2; exit 2 ;;
esac
EOF
chmod 755 "$tmp/ctl"
export KILN_TEST_POSTGRES_CTL="$tmp/ctl"
echo "Tests/postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port as $user" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
