#!/usr/bin/env bash
# Tasks in containers under runc, driven directly (docs/containers.md): the
# smoke DAG with every task in the smoke image, the image digest recorded as
# container_image_digest, a timeout and a cancel that leave no container and
# no process behind, memory limits enforced, and the configuration errors.
# Skipped (77) when runc is not installed or we are not root.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/lib_container.bash"
pw_setup
type -P runc >/dev/null || pw_skip "runc is not installed (apt-get install runc)"
(($(id -u) == 0)) || pw_skip "runc is driven directly only as root"
ctr_setup

ctr_smoke runc
ctr_timeout runc
ctr_cancel runc

# The image is unpacked once per digest, read-only, under the state directory.
check "the image is unpacked once, under .pitwall/rootfs/<manifest hex>" \
	test -d "$T/.pitwall/rootfs/${SMOKE_DIGEST#sha256:}/rootfs/bin"

# memory_limit is the container's (linux.resources.memory): a task above it is killed.
f0=$PW_FAIL
cat >"$T/limits.yaml" <<'YAML'
dag_id: ctr_limits
tasks:
  - task_id: ctr_hog
    container: smoke
    command: ["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"]
    resources: {memory_limit: 64Mi}
    timeout: 30s
    retries: 0
  - task_id: ctr_small
    container: smoke
    command: ["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; for (i = 0; i < 16; i++) s = s s; print length(s) }"]
    resources: {memory_limit: 64Mi, cpu_limit: 0.5}
YAML
pw_run limits "$T/limits.yaml" --container-runtime runc
check_eq "$(rj 't("ctr_hog")["status"]')" failed "a container above its memory_limit fails"
check_eq "$(rj 'a("ctr_hog",1)["exit_code"]')" 137 "it was SIGKILLed by the memory cgroup (runc exits 137)"
check_eq "$(rj 't("ctr_small")["status"]')" success "a container within its limits succeeds"
check_eq "$(ctr_left runc)" "" "no container is left after an OOM kill"
((PW_FAIL == f0)) || pw_show

# Configuration errors: not retried, class invalid_configuration, a clear message.
f0=$PW_FAIL
cat >"$T/bad.yaml" <<'YAML'
dag_id: ctr_bad
tasks:
  - task_id: no_image
    container: no-such-image
    command: ["sh", "-c", "true"]
    retries: 2
  - task_id: no_command
    container: smoke
    command: ["frobnicate"]
    retries: 2
  - task_id: outside
    container: smoke
    command: ["sh", "-c", "true"]
    working_dir: /etc
YAML
pw_run bad "$T/bad.yaml" --container-runtime runc
check_eq "$RC" 1 "configuration errors: pitwall exits 1"
for task in no_image no_command outside; do
	check_eq "$(rj "t(\"$task\")[\"status\"]")/$(rj "t(\"$task\")[\"attempts\"]")/$(rj "a(\"$task\",1)[\"class\"]")" \
		failed/1/invalid_configuration "$task: failed once, invalid_configuration, not retried"
done
check_match "$(rj 'a("no_image",1)["error"]')" "image 'no-such-image' not found.*pitwall image build" \
	"an unknown image names what was searched and how to build one"
check_match "$(rj 'a("no_command",1)["error"]')" "command 'frobnicate' not found in image smoke" \
	"a command missing from the image is named"
check_match "$(rj 'a("outside",1)["error"]')" "outside the run workspace" \
	"a working_dir outside the workspace is refused"
((PW_FAIL == f0)) || pw_show

# A path to a layout works as well as a name (relative to the DAG's directory).
f0=$PW_FAIL
mkdir -p "$T/dagdir"
cp -r "$T/.pitwall/images/smoke" "$T/dagdir/img"
cat >"$T/dagdir/path.yaml" <<'YAML'
dag_id: ctr_path
tasks:
  - task_id: by_path
    container: ./img
    shell: "echo from-path > out.txt"
YAML
pw_run bypath "$T/dagdir/path.yaml" --container-runtime runc
check_eq "$(cat "$WS/out.txt" 2>&1)" from-path "container: ./img (a layout beside the DAG) runs"
((PW_FAIL == f0)) || pw_show

# The F1 pipeline with every task in its image (dags/f1_data_pipeline_containers.yaml),
# when the tasks are built and the data is here: the same outputs as without containers.
F1B=${PW_BUILD_DIR:-}/bin
F1D=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared}/data/f1
if [[ -x $F1B/f1-ingest && -x $F1B/f1-profiles && -f $F1D/races.csv ]]; then
	f0=$PW_FAIL
	built=0
	for d in ingest validate clean feature split profiles; do
		pw_cmd image build "$PW_SOURCE_DIR/containers/$d" --from-build "$PW_BUILD_DIR"
		((RC == 0)) && built=$((built + 1))
	done
	check_eq "$built" 6 "the six F1 task images build from containers/"
	mkdir -p "$T/f1c"
	cp -r "$F1D" "$T/f1c/source" # a container sees only the workspace
	F1_SOURCE=csv:$T/f1c/source F1_SEASONS=2021-2023 pw_run f1c \
		"$PW_SOURCE_DIR/dags/f1_data_pipeline_containers.yaml" --seed 7
	check_eq "$RC" 0 "the F1 pipeline with every task under runc: exit 0"
	check_eq "$(rj '[x["task_id"] for x in d["tasks"] if x["status"] != "success"]')" "[]" \
		"all nine container tasks succeeded"
	F1_SOURCE=csv:$F1D F1_SEASONS=2021-2023 PATH=$F1B:$PATH pw_run f1p \
		"$PW_SOURCE_DIR/dags/f1_data_pipeline.yaml" --seed 7
	for f in raw/lap_times.csv clean/laps.csv features/lap_features.csv splits/train.csv \
		profiles/driver_profiles.csv; do
		check "$f: the same bytes in containers as without" cmp -s "$T/f1c/$f" "$T/f1p/$f"
	done
	check_eq "$(ctr_left runc)" "" "no container is left after the F1 run"
	((PW_FAIL == f0)) || pw_show
fi

ctr_overhead runc
pw_done
