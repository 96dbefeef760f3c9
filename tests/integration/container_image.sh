#!/usr/bin/env bash
# `pitwall image build` (docs/containers.md): an OCI image layout with no
# daemon and no network, reproducible (the same digest twice, the same
# archive bytes twice), valid JSON with digests that match the blobs; its
# errors; and a task with container: but no runtime fails clearly.
source "$(dirname "$0")/lib.bash"
pw_setup
export PITWALL_HOME=$T
unset PITWALL_STORE PITWALL_IMAGE_PATH
SRC=$PW_SOURCE_DIR

pw_cmd image build "$SRC/containers/smoke" -o "$T/a" --archive "$T/a.tar"
check_eq "$RC" 0 "image build containers/smoke: exit 0"
d1=$(awk '$1 == "digest" { print $2 }' "$OUT")
check_match "$d1" '^sha256:[0-9a-f]{64}$' "it prints the manifest digest"
sleep 1.1 # a different second: timestamps must not matter
pw_cmd image build "$SRC/containers/smoke" -o "$T/b" --archive "$T/b.tar"
d2=$(awk '$1 == "digest" { print $2 }' "$OUT")
check_eq "$d2" "$d1" "built twice: the same digest"
check "built twice: the same archive bytes" cmp -s "$T/a.tar" "$T/b.tar"
check "built twice: the same layout files" diff -r "$T/a" "$T/b"
pw_cmd image digest "$T/a"
check_eq "$(cat "$OUT")" "$d1" "image digest DIR prints the same digest"

# The layout is valid: every digest is the sha256 of its blob, the layer a sorted,
# 0:0, 1970 tar with the ELF files' libraries and the loader.
check_eq "$(python3 - "$T/a" <<'PY'
import hashlib, json, os, sys, tarfile
d = sys.argv[1]
def blob(dg):
    algo, hexd = dg.split(":")
    data = open(os.path.join(d, "blobs", algo, hexd), "rb").read()
    assert hashlib.sha256(data).hexdigest() == hexd, dg
    return data
try:
    assert json.load(open(os.path.join(d, "oci-layout")))["imageLayoutVersion"] == "1.0.0"
    idx = json.load(open(os.path.join(d, "index.json")))
    m = json.loads(blob(idx["manifests"][0]["digest"]))
    assert m["schemaVersion"] == 2 and m["mediaType"].endswith("manifest.v1+json")
    cfg = json.loads(blob(m["config"]["digest"]))
    assert cfg["rootfs"]["diff_ids"] == [l["digest"] for l in m["layers"]]
    for l in m["layers"]:
        blob(l["digest"])
        t = tarfile.open(os.path.join(d, "blobs", *l["digest"].split(":")))
        members = t.getmembers()
        names = [x.name for x in members]
        assert names == sorted(names), "layer not sorted"
        assert all(x.uid == 0 and x.gid == 0 and x.mtime == 0 for x in members), "owner/mtime"
        for need in ("bin/sh", "usr/bin/awk", "etc/passwd", "workspace", "tmp"):
            assert need in names, need
        assert any("/ld-linux" in n for n in names), "no dynamic loader"
        assert any("libc.so" in n for n in names), "no libc"
    print("ok")
except AssertionError as e:
    print("bad: %s" % e)
PY
)" ok "the layout checks out: digests, diff_ids, a sorted 0:0 epoch layer with libc and the loader"
check_match "$(tar tf "$T/a.tar" | sort | tr '\n' ' ')" "index.json manifest.json oci-layout" \
	"the archive holds the OCI layout and a docker manifest.json"

# The default output: .pitwall/images/<name> under PITWALL_HOME, found by name.
pw_cmd image build "$SRC/containers/smoke"
check "default output is \$PITWALL_HOME/.pitwall/images/smoke" test -f "$T/.pitwall/images/smoke/index.json"
pw_cmd image digest smoke
check_eq "$(cat "$OUT")" "$d1" "image digest NAME finds it by name"

# An F1 task image, when the tasks are built: the binary from --from-build.
if [[ -x ${PW_BUILD_DIR:-}/bin/f1-split ]]; then
	pw_cmd image build "$SRC/containers/split" --from-build "$PW_BUILD_DIR" -o "$T/split1"
	check_eq "$RC" 0 "image build containers/split --from-build \$PW_BUILD_DIR"
	s1=$(awk '$1 == "digest" { print $2 }' "$OUT")
	pw_cmd image build "$SRC/containers/split" --from-build "$PW_BUILD_DIR" -o "$T/split2"
	check_eq "$(awk '$1 == "digest" { print $2 }' "$OUT")" "$s1" \
		"containers/split built twice: the same digest"
fi

# Errors name the file and say what to do.
mkdir -p "$T/defs/bad1" "$T/defs/bad2" "$T/defs/bad3"
echo '{"name": "x", "files": [{"from": "build:bin/nope", "to": "/x"}]}' >"$T/defs/bad1/image.json"
echo '{"name": "x", "fils": []}' >"$T/defs/bad2/image.json"
echo '{"name": "x", "files": [' >"$T/defs/bad3/image.json"
pw_cmd image build "$T/defs/bad1" --from-build "$T/nobuild"
check_match "$RC $(cat "$ERR")" \
	"^1 .*bad1/image.json: error: files\[0\]: .*nobuild/bin/nope not found.*--from-build" \
	"a missing build: file: exit 1, names it and --from-build"
pw_cmd image build "$T/defs/bad2"
check_match "$(cat "$ERR")" "unknown key 'fils' \(did you mean 'files'\?\)" "an unknown key: did you mean"
pw_cmd image build "$T/defs/bad3"
check_match "$(cat "$ERR")" "bad3/image.json:[0-9]+:[0-9]+: error:" "malformed JSON: FILE:LINE:COL"
pw_cmd image build "$T/defs"
check_match "$RC $(cat "$ERR")" "^1 .*no image definition here" "a directory without image.json"
pw_cmd image frob
check_eq "$RC" 64 "an unknown image subcommand is a usage error"

# container: with no runtime available: invalid_configuration, not retried, a clear error.
mkdir -p "$T/emptypath"
cat >"$T/nort.yaml" <<'YAML'
dag_id: ctr_nort
tasks:
  - task_id: boxed
    container: smoke
    command: ["sh", "-c", "true"]
    retries: 2
  - task_id: plain
    command: ["/bin/sh", "-c", "true"]
YAML
RC=0
PATH=$T/emptypath "$PITWALL" run "$T/nort.yaml" --workspace "$T/nort" --log-format json \
	>"$T/nort.out" 2>"$T/nort.err" </dev/null || RC=$?
RJ=$T/nort/run.json
check_eq "$RC" 1 "no container runtime: pitwall exits 1"
check_eq "$(rj 't("boxed")["status"]')/$(rj 't("boxed")["attempts"]')/$(rj 'a("boxed",1)["class"]')" \
	failed/1/invalid_configuration "the container task fails once as invalid_configuration"
check_match "$(rj 'a("boxed",1)["error"]')" "no container runtime available \(runc .*; podman .*; docker " \
	"the error says why each runtime is unusable"
check_eq "$(rj 't("plain")["status"]')" success "a task without container: still runs"
pw_cmd validate "$T/nort.yaml"
check_eq "$RC" 0 "validate does not need a runtime"

cat >"$T/badrt.yaml" <<'YAML'
dag_id: ctr_badrt
container_runtime: rkt
tasks:
  - task_id: a
    container: smoke
    command: ["true"]
    network: maybe
YAML
pw_cmd validate "$T/badrt.yaml"
check_match "$(cat "$ERR")" "unknown container_runtime 'rkt'" "validate: an unknown container_runtime"
check_match "$(cat "$ERR")" "network" "validate: network must be a boolean"
pw_cmd run "$T/nort.yaml" --container-runtime rkt
check_eq "$RC" 64 "run --container-runtime rkt: usage error"
pw_done
