#!/usr/bin/env bash
# pitwall doctor: one line per check, each marked ok, missing or error;
# exit 0 whatever the machine lacks (64 only for a usage error); --json
# carries the same checks.  The store and git checks follow --store and the
# current directory.
source "$(dirname "$0")/lib.bash"
pw_setup

cd "$T"
pw_cmd doctor --store "sqlite:$T/audit.db"
check_eq "$RC" 0 "doctor exits 0"
out=$(cat "$OUT")
echo "$out" | sed 's/^/# /'
bad=$(grep -Ev '^(ok|missing|error) ' "$OUT" || true)
check_eq "$bad" "" "every line starts with ok, missing or error"
for c in "cgroup v2" "cgroup v1" limits runc crun podman docker slurm store git; do
	check "a line for $c" grep -Eq "^(ok|missing|error) +$c " "$OUT"
done
check_match "$out" "ok +store +sqlite:$T/audit.db" "the store named by --store opens"
check_match "$out" 'missing +git ' "outside a repository: git missing"
check_match "$out" 'limits +memory_limit: (cgroup v[12]|rlimit); cpu_limit: (cgroup v[12]|rlimit|none)' \
	"the limits line says how memory and CPU limits are enforced"
if type -P runc >/dev/null; then
	check_match "$out" 'ok +runc +runc version' "runc is found with its version"
else
	check_match "$out" 'missing +runc' "no runc: missing"
fi
# No pitwall cgroup is left behind by the probe.
left=$(find /sys/fs/cgroup -maxdepth 6 -type d -name pitwall 2>/dev/null | head -5 || true)
echo "# pitwall cgroup directories now: ${left:-none} (another run may be using them)"

pw_cmd doctor --store "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1" --json
check_eq "$RC" 0 "doctor exits 0 when the store cannot be reached"
check_eq "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(",".join(sorted({c["status"] for c in d["checks"]} - {"ok", "missing", "error"})) or "fine")
' "$OUT")" fine "--json: every check has status ok, missing or error"
check_eq "$(python3 -c '
import json, sys
print([c["status"] for c in json.load(open(sys.argv[1]))["checks"] if c["check"] == "store"][0])' "$OUT")" \
	error "--json: an unreachable store is an error"
check_match "$(python3 -c '
import json, sys
print([c for c in json.load(open(sys.argv[1]))["checks"] if c["check"] == "limits"][0]["memory"])' "$OUT")" \
	'^(cgroup v[12]|rlimit)$' "--json: the limits check says how memory is limited"

cd "$PW_SOURCE_DIR"
pw_cmd doctor --store "sqlite:$T/audit.db"
check_match "$(cat "$OUT")" 'ok +git +.* at [0-9a-f]{12}' "inside the source tree: the git repository and its HEAD"
cd "$T"
pw_cmd doctor --bogus
check_eq "$RC" 64 "an unknown option is a usage error (64)"
pw_done
