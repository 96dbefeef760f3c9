# Shared by tests/integration/slurm_*.sh (sourced, after lib.bash): a throwaway
# single-node Slurm 22.05 cluster on localhost, started by the test and torn
# down by its EXIT trap.
#
#   munged      as user munge, a fresh key, its socket in the cluster's dir
#   slurmctld   -i -D, state in the cluster's dir, a free port
#   slurmd      -N localhost -D, 2 CPUs, proctrack/linuxproc, task/none
#   slurmrestd  as nobody (it refuses root), SLURM_JWT=daemon, JWT over TCP
#               on 127.0.0.1 and a free port; the token from `scontrol token`
#
# Everything lives in $SL (under $T), SLURM_CONF points there, and only the
# pids recorded here are ever signalled.  Needs root (the daemons change
# user); where the packages are missing they are installed with apt-get, and
# the test is skipped (77) only when that is not possible.
#
# After slurm_setup: SLURM_CONF, SLURM_JWT and PITWALL_SLURM_URL are exported.

SLURM_PKGS=(slurmctld slurmd slurmrestd slurm-client munge slurm-wlm-jwt-plugin)
SLURM_LIBDIR=/usr/lib/x86_64-linux-gnu/slurm-wlm
SL_PIDS=()

slurm_have() {
	local b
	for b in slurmctld slurmd slurmrestd munged sinfo squeue scancel scontrol setpriv; do
		type -P "$b" >/dev/null || PATH=$PATH:/usr/sbin:/sbin type -P "$b" >/dev/null || return 1
	done
	[[ -e $SLURM_LIBDIR/auth_jwt.so || -n $(find /usr/lib -name auth_jwt.so -print -quit 2>/dev/null) ]]
}

slurm_install() {
	slurm_have && return 0
	((EUID == 0)) && type -P apt-get >/dev/null || return 1
	echo "# installing ${SLURM_PKGS[*]}"
	(
		flock 9
		slurm_have && exit 0
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends "${SLURM_PKGS[@]}" >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
				apt-get install -y -qq --no-install-recommends "${SLURM_PKGS[@]}" >/dev/null 2>&1; }
	) 9>/tmp/pitwall-slurm-apt.lock
	slurm_have
}

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
PY
}

slurm_setup() {
	export PATH=$PATH:/usr/sbin:/sbin
	if ((EUID != 0)); then
		pw_skip "the Slurm daemons are started as root here (munge and nobody users)"
	fi
	if ! slurm_install; then
		pw_skip "Slurm cannot be installed here (${SLURM_PKGS[*]})"
	fi
	SL=$T/slurm
	mkdir -p "$SL/munge" "$SL/ctld" "$SL/spool" "$SL/log"
	chmod 755 "$T" "$SL"
	local ports
	read -r -a ports <<<"$(free_ports 3)"
	SL_CTLD_PORT=${ports[0]}
	SL_SLURMD_PORT=${ports[1]}
	SL_REST_PORT=${ports[2]}

	# munge: its directory must be its own and not writable by others.
	chown munge:munge "$SL/munge"
	chmod 711 "$SL/munge"
	dd if=/dev/urandom of="$SL/munge/munge.key" bs=1024 count=1 status=none
	chown munge:munge "$SL/munge/munge.key"
	chmod 400 "$SL/munge/munge.key"
	setpriv --reuid=munge --regid=munge --init-groups munged --foreground \
		--key-file="$SL/munge/munge.key" --socket="$SL/munge/munge.sock" \
		--pid-file="$SL/munge/munged.pid" --log-file="$SL/munge/munged.log" \
		--seed-file="$SL/munge/seed" >"$SL/log/munged.out" 2>&1 &
	SL_PIDS+=($!)

	dd if=/dev/urandom of="$SL/jwt.key" bs=32 count=1 status=none
	chmod 600 "$SL/jwt.key"
	cat >"$SL/slurm.conf" <<EOF
ClusterName=pitwall
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$SL_CTLD_PORT
SlurmdPort=$SL_SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$SL/munge/munge.sock
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$SL/jwt.key
StateSaveLocation=$SL/ctld
SlurmdSpoolDir=$SL/spool
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd.pid
SlurmctldLogFile=$SL/log/slurmctld.log
SlurmdLogFile=$SL/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=128
MpiDefault=none
ReturnToService=2
KillWait=2
MinJobAge=600
InactiveLimit=0
NodeName=localhost CPUs=2 RealMemory=2048 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
	chmod 644 "$SL/slurm.conf"
	export SLURM_CONF=$SL/slurm.conf
	wait_for_files 10 "$SL/munge/munge.sock" || {
		slurm_fail_setup "munged did not start"
	}
	slurmctld -i -D >"$SL/log/slurmctld.out" 2>&1 &
	SL_PIDS+=($!)
	slurmd -N localhost -D >"$SL/log/slurmd.out" 2>&1 &
	SL_PIDS+=($!)
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env SLURM_JWT=daemon SLURM_CONF="$SLURM_CONF" \
		slurmrestd -s openapi/v0.0.38 -a rest_auth/jwt "127.0.0.1:$SL_REST_PORT" \
		>"$SL/log/slurmrestd.out" 2>&1 &
	SL_PIDS+=($!)

	local deadline=$((SECONDS + 20)) up=0
	while ((SECONDS < deadline)); do
		if [[ $(sinfo -h -o %T 2>/dev/null) == idle ]]; then
			up=1
			break
		fi
		sleep 0.1
	done
	((up)) || slurm_fail_setup "the node did not become idle"
	SLURM_JWT=$(scontrol token lifespan=7200 2>/dev/null | sed -n 's/^SLURM_JWT=//p')
	[[ -n $SLURM_JWT ]] || slurm_fail_setup "scontrol token gave no token"
	export SLURM_JWT
	export PITWALL_SLURM_URL=http://127.0.0.1:$SL_REST_PORT
	up=0
	deadline=$((SECONDS + 10))
	while ((SECONDS < deadline)); do
		if slurm_rest GET /slurm/v0.0.38/ping 2>/dev/null | grep -q '"UP"'; then
			up=1
			break
		fi
		sleep 0.1
	done
	((up)) || slurm_fail_setup "slurmrestd does not answer"
	echo "# Slurm up: slurmctld :$SL_CTLD_PORT, slurmrestd $PITWALL_SLURM_URL ($SECONDS s)"
}

slurm_fail_setup() {
	pw_notok "start a single-node Slurm cluster" "$1" \
		"$(tail -n 5 "$SL"/log/*.out "$SL"/log/*.log "$SL"/munge/*.log 2>/dev/null | head -c 3000)"
	pw_done
	exit 1
}

# slurm_rest METHOD PATH: a request to slurmrestd with the token; prints the body.
slurm_rest() {
	curl -s -X "$1" -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $SLURM_JWT" \
		"$PITWALL_SLURM_URL$2"
}

# slurm_job_state JOBID: the job's state as slurmctld reports it ("" when unknown).
slurm_job_state() {
	squeue -h -j "$1" -t all -o %T 2>/dev/null | head -n 1
}

# slurm_jobs_of NAME: job ids, one a line, of the jobs with that name.
slurm_jobs_of() {
	squeue -h -t all -n "$1" -o %i 2>/dev/null | sort -n
}

# The EXIT trap's part: cancel our jobs, stop our daemons (by pid), and keep
# the logs of a failed test.
slurm_teardown() {
	[[ -n ${SL:-} && -d ${SL:-/nonexistent} ]] || return 0
	if ((PW_FAIL > 0)) && [[ -z ${PW_KEEP:-} ]]; then
		echo "# --- slurm logs"
		tail -n 15 "$SL"/log/slurmctld.log "$SL"/log/slurmd.log "$SL"/log/slurmrestd.out 2>/dev/null |
			sed 's/^/#   /'
	fi
	if [[ -n ${SLURM_CONF:-} ]]; then
		scancel --quiet --full --signal=KILL --user=root 2>/dev/null || true
		local i
		for i in $(seq 30); do
			[[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
			sleep 0.1
		done
	fi
	local pid
	for ((i = ${#SL_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${SL_PIDS[i]}
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${SL_PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}

# slurm_smoke_dag OUT: dags/smoke.yaml with executor: slurm as the DAG's default.
slurm_smoke_dag() {
	sed -e 's/^dag_id: smoke$/dag_id: smoke_slurm/' \
		-e 's/^max_active_tasks: 4$/max_active_tasks: 4\nexecutor: slurm/' \
		"$PW_SOURCE_DIR/dags/smoke.yaml" >"$1"
}

# audit_rows RUN_ID: the run's audit rows as JSON lines.
slurm_audit_rows() {
	"$PITWALL" audit query --run "$1" --json 2>/dev/null
}

# sq FILE EXPR: a Python expression over the audit rows in FILE (JSON lines)
# as `rows` (seq order), with of(etype[, task]) the rows of that event type
# (and task), md(row) its metadata.  Strings print bare, the rest as JSON.
sq() {
	python3 - "$1" "$2" <<'PY'
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1], errors="replace") if l.startswith("{")),
              key=lambda r: r["seq"])
def md(r):
    m = r.get("metadata")
    return json.loads(m) if isinstance(m, str) else (m or {})
def of(et, task=None):
    return [r for r in rows if r["event_type"] == et and (task is None or r.get("task_id") == task)]
try:
    v = eval(sys.argv[2])
except Exception as e:
    v = "<error: %s: %s>" % (type(e).__name__, e)
print(v if isinstance(v, str) else json.dumps(v))
PY
}
