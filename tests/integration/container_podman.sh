#!/usr/bin/env bash
# Tasks in containers under podman (docs/containers.md): the image loaded
# once from pitwall's archive, the smoke DAG in it, the digest recorded, and
# a timeout and a cancel that leave no container behind.  podman runs with
# the containers.conf pitwall writes (runc, cgroupfs, rlimits it may set).
# Skipped (77) when podman is not installed or cannot run a container here.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/lib_container.bash"
pw_setup
type -P podman >/dev/null || pw_skip "podman is not installed (apt-get install podman)"
ctr_setup

# Can podman run anything at all here?  (The first run also writes containers.conf.)
cat >"$T/probe.yaml" <<'YAML'
dag_id: ctr_probe
tasks:
  - task_id: probe
    container: smoke
    command: ["sh", "-c", "echo podman-works"]
YAML
pw_run probe "$T/probe.yaml" --container-runtime podman
probe=$(cat "$WS/logs/probe.1.log" 2>/dev/null || true)
if [[ $probe != podman-works ]] && [[ $probe =~ (cannot|permission|not supported|cgroup|overlay|storage) ]]; then
	pw_skip "podman cannot run a container here: ${probe:0:300}"
fi
check_eq "$probe" podman-works "podman runs a task in the smoke image"
check_match "$(cat "$T/.pitwall/containers.conf" 2>&1)" 'cgroup_manager = "cgroupfs"' \
	"pitwall wrote containers.conf for podman"
PODMAN=(env CONTAINERS_CONF="$T/.pitwall/containers.conf" podman)
check "the image was loaded under its config digest (podman's image id)" \
	"${PODMAN[@]}" image exists "${SMOKE_CONFIG#sha256:}"

ctr_smoke podman
ctr_timeout podman
ctr_cancel podman

# The archive `image build --archive` writes is what `podman load` takes.
f0=$PW_FAIL
pw_cmd image build "$PW_SOURCE_DIR/containers/smoke" -o "$T/layout2" --archive "$T/smoke.tar"
check_eq "$RC" 0 "image build --archive"
out=$("${PODMAN[@]}" load -i "$T/smoke.tar" 2>&1) || true
check_match "$out" "pitwall/smoke:latest" "podman load takes the archive (tagged pitwall/smoke:latest)"
check_eq "$("${PODMAN[@]}" image inspect --format '{{.Id}}' pitwall/smoke:latest 2>&1)" \
	"${SMOKE_CONFIG#sha256:}" "the loaded image's id is the config digest"
"${PODMAN[@]}" untag "${SMOKE_CONFIG#sha256:}" pitwall/smoke:latest >/dev/null 2>&1 || true
((PW_FAIL == f0)) || pw_show

ctr_overhead podman
# The test's image leaves podman's store with it.
"${PODMAN[@]}" rmi -f "${SMOKE_CONFIG#sha256:}" >/dev/null 2>&1 || true
pw_done
