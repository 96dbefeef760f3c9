# A throwaway PostgreSQL server for tests/integration/*.sh (sourced, after
# lib.bash's pw_setup; not *.sh, so ctest does not run it as a test).
#
#   pg_setup            find the server binaries (exit 77 when there are none),
#                       initdb a cluster in a fresh temp dir, start it on a free
#                       port on 127.0.0.1 and a socket dir of its own, create a
#                       role with a password and a database.  Sets:
#                         PG_BIN PG_DIR PG_DATA PG_SOCK PG_PORT PG_LOG
#                         PG_USER PG_PASSWORD PG_DB
#                         PG_URL   postgresql://PG_USER:PG_PASSWORD@127.0.0.1:PG_PORT/PG_DB
#   pg_psql [ARG...]    psql as the superuser over the socket, -X -q -A -t -v ON_ERROR_STOP=1
#   pg_kill             stop the server at once (pg_ctl stop -m immediate: a crash)
#   pg_start            (re)start it on the same data dir and port
#   pg_freeze / pg_thaw SIGSTOP / SIGCONT the server and its backends: a
#                       server that hangs without closing its connections
#   pg_teardown         stop it and remove its temp dir (run by the EXIT trap)
#
# Debian's initdb refuses to run as root: as root, every server command runs
# as the postgres user through runuser.  Packages: postgresql (server),
# postgresql-client (psql).

PG_DIR=
PG_STARTED=

pg_find_bin() {
	local d
	PG_BIN=
	for d in ${PG_BIN_DIR:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV) \
		/usr/local/pgsql/bin; do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			PG_BIN=$d
			break
		fi
	done
	if [[ -z $PG_BIN ]]; then
		local i
		i=$(command -v initdb 2>/dev/null || true)
		[[ -n $i ]] && PG_BIN=$(dirname "$i")
	fi
	[[ -n $PG_BIN && -x $PG_BIN/pg_ctl ]]
}

# As root run as postgres (initdb refuses root); otherwise as ourselves.
pg_as() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_free_port() {
	python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

pg_psql() {
	"$PG_PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres \
		-d "${PG_PSQL_DB:-$PG_DB}" "$@"
}

pg_start() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCK -c fsync=off -c full_page_writes=off" \
		start >/dev/null
}

pg_kill() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null
}

# The postmaster and its children (our server's processes only).
pg_pids() {
	local pm
	pm=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
	[[ $pm =~ ^[0-9]+$ ]] || return 0
	echo "$pm"
	ps -o pid= --ppid "$pm" 2>/dev/null || true
}

pg_freeze() {
	PG_FROZEN=$(pg_pids | tr '\n' ' ')
	# shellcheck disable=SC2086
	[[ -n $PG_FROZEN ]] && kill -STOP $PG_FROZEN 2>/dev/null || true
}

pg_thaw() {
	local pids=${PG_FROZEN:-$(pg_pids | tr '\n' ' ')}
	# shellcheck disable=SC2086
	[[ -n $pids ]] && kill -CONT $pids 2>/dev/null || true
	PG_FROZEN=
}

pg_teardown() {
	[[ -n $PG_DIR && -d $PG_DIR ]] || return 0
	if [[ -n $PG_STARTED && -f $PG_DATA/postmaster.pid ]]; then
		pg_thaw
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	fi
	if [[ -n ${PW_KEEP:-} ]]; then
		echo "# kept $PG_DIR (server log: $PG_LOG)"
	else
		rm -rf "$PG_DIR"
	fi
	PG_DIR=
}

pg_setup() {
	if ! pg_find_bin; then
		echo "# no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); skipping"
		echo "# install: apt-get install -y postgresql"
		exit 77
	fi
	PG_PSQL=$PG_BIN/psql
	[[ -x $PG_PSQL ]] || PG_PSQL=$(command -v psql || true)
	if [[ -z $PG_PSQL ]]; then
		echo "# psql not found; skipping (apt-get install -y postgresql-client)"
		exit 77
	fi
	if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
		echo "# running as root and there is no postgres user for initdb; skipping"
		exit 77
	fi
	PG_DIR=$(mktemp -d /tmp/pw-pg.XXXXXX)
	PG_DATA=$PG_DIR/data
	PG_SOCK=$PG_DIR/sock
	PG_LOG=$PG_DIR/server.log
	mkdir -p "$PG_SOCK"
	((EUID == 0)) && chown -R postgres: "$PG_DIR"
	# Run pw_cleanup (lib.bash) after stopping the server, keeping the exit code.
	# shellcheck disable=SC2154 # __rc is set by the trap itself
	trap '__rc=$?; pg_teardown; (exit $__rc); pw_cleanup' EXIT
	if ! pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
		--auth-local=trust --auth-host=scram-sha-256 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		echo "# initdb failed:"
		sed 's/^/#   /' "$PG_DIR/initdb.log"
		exit 1
	fi
	local try
	for _ in 1 2 3; do
		PG_PORT=$(pg_free_port)
		if pg_start; then
			PG_STARTED=1
			break
		fi
	done
	if [[ -z $PG_STARTED ]]; then
		echo "# the PostgreSQL server did not start:"
		tail -n 20 "$PG_LOG" | sed 's/^/#   /'
		exit 1
	fi
	PG_USER=pitwall_test
	PG_PASSWORD=S3cr3t$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	PG_DB=pitwall_test
	PG_PSQL_DB=postgres pg_psql -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'" \
		-c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null
	PG_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
}
