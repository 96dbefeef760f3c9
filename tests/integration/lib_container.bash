# Shared by tests/integration/container_*.sh (sourced, after lib.bash): real
# containers with the smoke image (containers/smoke: the host's sh, seq, awk,
# sort, ... and their libraries) built by `pitwall image build`.
#
# Every test keeps its state in $T: PITWALL_HOME=$T, so the audit store, the
# image layouts, the unpacked root filesystems and runc's state are all under
# $T/.pitwall and go away with it.

ctr_setup() {
	export PITWALL_HOME=$T
	unset PITWALL_STORE PITWALL_IMAGE_PATH PITWALL_RUNC_ROOT CONTAINERS_CONF
	SRC=$PW_SOURCE_DIR
	pw_cmd image build "$SRC/containers/smoke"
	if ((RC != 0)); then
		pw_notok "pitwall image build containers/smoke" "$(cat "$ERR")"
		pw_done
		exit 1
	fi
	SMOKE_DIGEST=$(awk '$1 == "digest" { print $2 }' "$OUT")
	SMOKE_CONFIG=$(awk '$1 == "config" { print $2 }' "$OUT")
	check_match "$SMOKE_DIGEST" '^sha256:[0-9a-f]{64}$' "image build prints the manifest digest"

	# dags/smoke.yaml with container: smoke on every task, plus two probes.
	sed -e 's/^  - task_id: \(.*\)$/  - task_id: \1\n    container: smoke/' \
		-e 's/^dag_id: smoke$/dag_id: smoke_containers/' \
		"$SRC/dags/smoke.yaml" >"$T/smoke_c.yaml"
	cat >>"$T/smoke_c.yaml" <<'EOF'
container_env: [PW_CTR_PASSED]
EOF
	python3 - "$T/smoke_c.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
probes = '''
  - task_id: probe_env
    container: smoke
    shell: "env | sort > env.txt; pwd > pwd.txt; cat /proc/net/dev > net.txt; echo > /probe 2>/dev/null || echo read-only > rootfs.txt"
    env:
      FROM_TASK: "{{ workspace }}/x"
    dependencies: [report]

  - task_id: probe_net
    container: smoke
    shell: "cat /proc/net/dev > hostnet.txt"
    network: true
    dependencies: [report]
'''
s = s.replace("\non_success:", probes + "\non_success:", 1)
open(p, "w").write(s)
PY
}

# ctr_left RUNTIME: the containers pitwall left behind (names), one a line.
ctr_left() {
	case $1 in
	runc)
		runc --root "$T/.pitwall/runc" list -q 2>/dev/null || true
		runc list -q 2>/dev/null | grep '^pw-' || true
		;;
	podman)
		CONTAINERS_CONF=$T/.pitwall/containers.conf podman ps -a --format '{{.Names}}' 2>/dev/null |
			grep -E '^pw-(ctr_|extract|evens|odds|merge|report|probe)' || true
		;;
	esac
}

# ctr_smoke RUNTIME: the smoke DAG, every task in a container.
ctr_smoke() {
	local rt=$1
	local f0=$PW_FAIL start ms
	start=$(date +%s%N)
	PW_CTR_PASSED=yes PW_CTR_SECRET=no pw_run "smoke_$rt" "$T/smoke_c.yaml" \
		--container-runtime "$rt" --run-id "smoke_$rt"
	ms=$((($(date +%s%N) - start) / 1000000))
	check_eq "$RC" 0 "$rt: smoke DAG in containers: exit 0 (${ms} ms)"
	check_eq "$(rj '[x["task_id"] for x in d["tasks"] if x["status"] != "success"]')" "[]" \
		"$rt: every task succeeded"
	check_eq "$(rj 't("odds")["attempts"]')" 2 "$rt: odds failed once (exit 75 through the runtime) and was retried"
	check_eq "$(rj 'a("odds",1)["exit_code"]')" 75 "$rt: the container's exit code is the attempt's"
	check_eq "$(cat "$WS/report.txt" 2>&1)" \
		"1000
67d4ff71d43921d5739f387da09746f405e425b07d727e4c69d029461d1f051f  data/all.txt" \
		"$rt: report.txt is what the plain smoke run writes"
	check_match "$(cat "$WS/logs/odds.1.log" 2>&1)" "simulated transient failure" \
		"$rt: the container's stderr reached logs/odds.1.log"
	check_eq "$(cat "$WS/pwd.txt" 2>&1)" /workspace "$rt: the task runs in /workspace"
	local envtxt
	envtxt=$(cat "$WS/env.txt" 2>&1)
	check_match "$envtxt" $'(^|\n)PITWALL_WORKSPACE=/workspace(\n|$)' "$rt: PITWALL_WORKSPACE is /workspace inside"
	check_match "$envtxt" $'(^|\n)FROM_TASK=/workspace/x(\n|$)' \
		"$rt: {{ workspace }} in a task's env becomes /workspace"
	check_match "$envtxt" $'(^|\n)PW_CTR_PASSED=yes(\n|$)' "$rt: a container_env variable passes in"
	check_nomatch "$envtxt" 'PW_CTR_SECRET' "$rt: other host variables do not"
	check_match "$envtxt" $'(^|\n)PITWALL_RUN_ID=smoke_'"$rt"$'(\n|$)' "$rt: PITWALL_RUN_ID is set inside"
	check_nomatch "$envtxt" 'PITWALL_HOME' "$rt: pitwall's own settings stay outside"
	check_eq "$(cat "$WS/rootfs.txt" 2>&1)" read-only "$rt: the image's root filesystem is read-only"
	check_eq "$(grep -c : "$WS/net.txt" 2>&1)" 1 "$rt: no network unless asked (only lo in /proc/net/dev)"
	check_le 2 "$(grep -c : "$WS/hostnet.txt" 2>&1)" "$rt: network: true shares the host's interfaces"

	# The audit record: container_image_digest is the image's manifest digest.
	local digests
	digests=$("$PITWALL" audit query --run "smoke_$rt" --event task_start --json 2>&1 |
		python3 -c '
import json, sys
seen = set()
for l in sys.stdin:
    r = json.loads(l)
    m = r["metadata"] if isinstance(r["metadata"], dict) else json.loads(r["metadata"])
    seen.add("%s %s" % (r["container_image_digest"], m.get("container", {}).get("runtime")))
print(" ".join(sorted(seen)))')
	check_eq "$digests" "$SMOKE_DIGEST $rt" \
		"$rt: every task_start records container_image_digest = the image digest, and the runtime"
	check_eq "$(ctr_left "$rt")" "" "$rt: no container is left after the run"
	check_eq "$(ls "$T/.pitwall/bundles" 2>/dev/null)" "" "$rt: no bundle directory is left"
	((PW_FAIL == f0)) || pw_show
}

# ctr_timeout RUNTIME: sleep 30 with timeout 1s -> timeout, nothing left.
ctr_timeout() {
	local rt=$1
	local f0=$PW_FAIL start ms
	cat >"$T/timeout_$rt.yaml" <<EOF
dag_id: ctr_timeout_$rt
kill_grace: 300ms
tasks:
  - task_id: ctr_sleeper
    container: smoke
    command: ["sleep", "31.25"]
    timeout: 1s
    retries: 0
  - task_id: ctr_trapper
    container: smoke
    shell: "trap 'echo got TERM; exit 3' TERM; echo started; sleep 31.5 & wait"
    timeout: 1s
    retries: 0
EOF
	start=$(date +%s%N)
	pw_run "timeout_$rt" "$T/timeout_$rt.yaml" --container-runtime "$rt"
	ms=$((($(date +%s%N) - start) / 1000000))
	check_eq "$RC" 1 "$rt: a timed-out container task makes pitwall exit 1"
	check_le "$ms" 10000 "$rt: the run ends soon after timeout + grace (${ms} ms, tasks sleep 30 s)"
	check_eq "$(rj 't("ctr_sleeper")["status"]')" timeout "$rt: sleep 30 in a container, timeout 1s: status timeout"
	check_eq "$(rj 'a("ctr_sleeper",1)["class"]')" network_timeout "$rt: classed network_timeout"
	check_eq "$(rj 't("ctr_trapper")["status"]')" timeout "$rt: a task that handles SIGTERM: status timeout"
	check_match "$(cat "$WS/logs/ctr_trapper.1.log" 2>&1)" "got TERM" \
		"$rt: SIGTERM reached the process inside the container first"
	check_eq "$(ctr_left "$rt")" "" "$rt: no container is left after a timeout"
	check_eq "$(pgrep -f 'sleep 31\.(25|5)' || true)" "" "$rt: no process of the containers is left"
	((PW_FAIL == f0)) || pw_show
}

# ctr_cancel RUNTIME: SIGINT to pitwall while a container runs -> cancelled, nothing left.
ctr_cancel() {
	local rt=$1
	local f0=$PW_FAIL rc=0 start ms
	cat >"$T/cancel_$rt.yaml" <<EOF
dag_id: ctr_cancel_$rt
tasks:
  - task_id: ctr_long
    container: smoke
    shell: "echo > started; sleep 31.75"
EOF
	WS=$T/cancel_$rt
	RJ=$WS/run.json
	"$PITWALL" run "$T/cancel_$rt.yaml" --workspace "$WS" --log-format json --kill-grace 300ms \
		--container-runtime "$rt" >"$T/cancel_$rt.out" 2>"$T/cancel_$rt.err" </dev/null &
	local pid=$!
	wait_for_files 30 "$WS/started" || true
	start=$(date +%s%N)
	kill -INT "$pid"
	wait "$pid" || rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	check_eq "$rc" 130 "$rt: SIGINT while a container runs: pitwall exits 130"
	check_le "$ms" 10000 "$rt: and soon (${ms} ms)"
	check_eq "$(rj 't("ctr_long")["status"]')" cancelled "$rt: the container task is cancelled"
	check_eq "$(ctr_left "$rt")" "" "$rt: no container is left after a cancel"
	check_eq "$(pgrep -f 'sleep 31\.75' || true)" "" "$rt: no process of the container is left"
	((PW_FAIL == f0)) || {
		OUT=$T/cancel_$rt.out ERR=$T/cancel_$rt.err
		pw_show
	}
}

# ctr_overhead RUNTIME: per-task start overhead against plain processes (information).
ctr_overhead() {
	local rt=$1 n=10 i ms_plain ms_ctr
	{
		echo "dag_id: ctr_overhead"
		echo "max_active_tasks: 1"
		echo "tasks:"
		for ((i = 0; i < n; i++)); do
			echo "  - task_id: t$i"
			echo "    command: [\"sh\", \"-c\", \":\"]"
			((i > 0)) && echo "    dependencies: [t$((i - 1))]"
		done
	} >"$T/overhead_plain.yaml"
	sed 's/^    command:/    container: smoke\n    command:/' "$T/overhead_plain.yaml" >"$T/overhead_ctr.yaml"
	local start=$(date +%s%N)
	"$PITWALL" run "$T/overhead_plain.yaml" --workspace "$T/ovp_$rt" --no-store -q >/dev/null 2>&1 || true
	ms_plain=$((($(date +%s%N) - start) / 1000000))
	start=$(date +%s%N)
	"$PITWALL" run "$T/overhead_ctr.yaml" --workspace "$T/ovc_$rt" --no-store -q \
		--container-runtime "$rt" >/dev/null 2>&1 || true
	ms_ctr=$((($(date +%s%N) - start) / 1000000))
	echo "# info: $n chained tasks: plain ${ms_plain} ms, $rt ${ms_ctr} ms" \
		"(~$(((ms_ctr - ms_plain) / n)) ms container overhead per task)"
}
