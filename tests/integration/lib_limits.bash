# Shared by limits_*.sh and cost_*.sh (sourced; not *.sh, so ctest does not
# run it on its own).  Needs lib.bash with pw_setup done.

# limits_need memory|cpu: skip (77) unless this machine can enforce that
# limit through a cgroup (v1 or v2) that pitwall can create: root, or a
# delegated subtree.  `pitwall doctor --json` says how each limit would go.
limits_need() {
	local what=$1 via
	via=$("$PITWALL" doctor --json --store "sqlite:$T/doctor.db" 2>/dev/null | python3 -c '
import json, sys
for c in json.load(sys.stdin)["checks"]:
    if c["check"] == "limits":
        print(c.get(sys.argv[1], "none"))
' "$what" || true)
	case $via in
	"cgroup v1" | "cgroup v2") LIMITS_VIA=$via ;;
	*) pw_skip "$what limits need cgroups this user can create (doctor says: ${via:-nothing})" ;;
	esac
}

# ratio A B: A / B with two decimals (floats), "nan" when B is 0.
ratio() {
	python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("%.2f" % (a / b) if b else "nan")' "$1" "$2"
}

# fcmp A OP B: a float comparison as an exit status (OP: < <= > >=).
fcmp() {
	python3 -c 'import sys, operator as o
a, op, b = sys.argv[1:]
ops = {"<": o.lt, "<=": o.le, ">": o.gt, ">=": o.ge}
sys.exit(0 if a not in ("nan", "") and ops[op](float(a), float(b)) else 1)' "$1" "$2" "$3"
}

# audit_rows STORE FILTER-ARGS...: `pitwall audit query --json` rows.
audit_rows() {
	local store=$1
	shift
	"$PITWALL" audit query --store "$store" --json "$@"
}

# jrows EXPR: evaluates a Python expression over JSON lines on stdin, as the
# list `rows` (the audit query's rows, metadata parsed).
jrows() {
	python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}
