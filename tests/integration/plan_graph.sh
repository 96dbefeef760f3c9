#!/usr/bin/env bash
# `pitwall plan` (text and --json) and `pitwall graph --format dot|mermaid`
# on a small diamond written out of order: top -> {right, left} -> bottom.
source "$(dirname "$0")/lib.bash"
pw_setup
cd "$T"
NL=$'\n'

# File order: bottom, right, top, left.  Topological order with ties broken
# by file order: top, right, left, bottom.  Levels: 0, 1, 1, 2.
cat >diamond.yaml <<'EOF'
dag_id: diamond
tasks:
  - task_id: bottom
    command: ["touch", "executed_bottom"]
    dependencies: [right, left]
  - task_id: right
    command: ["touch", "executed_right"]
    dependencies: [top]
    retries: 2
  - task_id: top
    command: ["touch", "executed_top"]
    timeout: 90s
  - task_id: left
    command: ["touch", "executed_left"]
    dependencies: [top]
EOF

# --- plan (text) ------------------------------------------------------------
pw_cmd plan diamond.yaml
check_eq "$RC" 0 "plan: exit 0"
first_line() { grep -nwm1 -- "$1" "$OUT" | cut -d: -f1 || true; }
order=""
for task in top right left bottom; do
	order+="$(first_line "$task" || true):"
done
check_match "$order" '^[0-9]+:[0-9]+:[0-9]+:[0-9]+:$' "plan names every task ($order)"
IFS=: read -r lt lr ll lb _ <<<"$order"
check "plan order is top, right, left, bottom (ties by file order)" \
	test "${lt:-0}" -lt "${lr:-0}" -a "${lr:-0}" -lt "${ll:-0}" -a "${ll:-0}" -lt "${lb:-0}"
check_match "$(cat "$OUT")" 'touch' "plan shows the resolved command"
check "plan executes nothing" bash -c "! ls -R '$T' | grep -q executed_"
check "plan creates no workspace" test ! -e "$T/runs"
((PW_FAIL == 0)) || pw_show

# --- plan --json --------------------------------------------------------------
f0=$PW_FAIL
pw_cmd plan diamond.yaml --json
check_eq "$RC" 0 "plan --json: exit 0"
summary=$(python3 - "$OUT" <<'PY' 2>&1
import json, sys
doc = json.load(open(sys.argv[1]))
def lists(v):
    if isinstance(v, list):
        if v and all(isinstance(x, dict) and "task_id" in x for x in v):
            yield v
        for x in v:
            yield from lists(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from lists(x)
tasks = next(lists(doc))
print(" ".join(t["task_id"] for t in tasks))
print(" ".join(str(t.get("level")) for t in tasks))
print(json.dumps(tasks))
PY
) || true
check_eq "$(sed -n 1p <<<"$summary")" "top right left bottom" "plan --json: topological order"
check_eq "$(sed -n 2p <<<"$summary")" "0 1 1 2" "plan --json: levels"
check_match "$(sed -n 3p <<<"$summary")" '"touch"' "plan --json: resolved command"
check_match "$(sed -n 3p <<<"$summary")" '90000|"90s"|90\.0|: 90[,}]' "plan --json: top's timeout"
((PW_FAIL == f0)) || { echo "# $summary"; pw_show; }

# --- graph ------------------------------------------------------------------
# edges FORMAT FILE: prints "from -> to solid|dashed", one a line, sorted,
# with node ids mapped to their labels (Mermaid output may number its nodes).
edges() {
	python3 - "$1" "$2" <<'PY'
import re, sys
fmt, path = sys.argv[1], sys.argv[2]
text = open(path).read()
out = []
if fmt == "dot":
    ident = r'(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_.]+))'
    for m in re.finditer(ident + r'\s*->\s*' + ident + r'([^;\n]*)', text):
        a = m.group(1) if m.group(1) is not None else m.group(2)
        b = m.group(3) if m.group(3) is not None else m.group(4)
        out.append("%s -> %s %s" % (a, b, "dashed" if "dashed" in m.group(5) else "solid"))
else:
    labels = {}
    for m in re.finditer(r'([A-Za-z0-9_]+)\[\s*"?([^"\]]*)"?\s*\]', text):
        labels[m.group(1)] = m.group(2)
    for m in re.finditer(r'([A-Za-z0-9_]+)(?:\[[^\]]*\])?\s*(-->|-\.->|==>)\s*(?:\|[^|]*\|\s*)?([A-Za-z0-9_]+)', text):
        a, b = labels.get(m.group(1), m.group(1)), labels.get(m.group(3), m.group(3))
        out.append("%s -> %s %s" % (a, b, "dashed" if m.group(2) == "-.->" else "solid"))
print("\n".join(sorted(out)))
PY
}
DIAMOND_EDGES=$(printf '%s\n' "left -> bottom solid" "right -> bottom solid" \
	"top -> left solid" "top -> right solid")

f0=$PW_FAIL
pw_cmd graph diamond.yaml --format dot
check_eq "$RC" 0 "graph --format dot: exit 0"
check_match "$(cat "$OUT")" 'digraph' "dot: a digraph"
check_eq "$(edges dot "$OUT")" "$DIAMOND_EDGES" "dot: exactly the 4 diamond edges"
if command -v dot >/dev/null; then
	check "dot -Tsvg accepts the output" dot -Tsvg -o /dev/null "$OUT"
fi
pw_cmd graph diamond.yaml
check_eq "$RC" 0 "graph without --format: exit 0"

pw_cmd graph diamond.yaml --format mermaid
check_eq "$RC" 0 "graph --format mermaid: exit 0"
check_match "$(cat "$OUT")" '^[[:space:]]*flowchart TD' "mermaid: starts with flowchart TD"
check_eq "$(edges mermaid "$OUT")" "$DIAMOND_EDGES" "mermaid: exactly the 4 diamond edges"
((PW_FAIL == f0)) || pw_show

# Optional dependencies are dashed (syntax: see deps.sh).
f0=$PW_FAIL
cat >optional.yaml <<'EOF'
dag_id: optional_graph
tasks:
  - task_id: src
    command: ["true"]
  - task_id: extra
    command: ["true"]
  - task_id: sink
    command: ["true"]
    dependencies: [src]
    optional_dependencies: [extra]
EOF
OPT_EDGES=$(printf '%s\n' "extra -> sink dashed" "src -> sink solid")
pw_cmd graph optional.yaml --format dot
check_eq "$RC" 0 "graph of a DAG with an optional dependency: exit 0"
check_eq "$(edges dot "$OUT")" "$OPT_EDGES" "dot: the optional edge is dashed, the other solid"
pw_cmd graph optional.yaml --format mermaid
check_eq "$(edges mermaid "$OUT")" "$OPT_EDGES" "mermaid: the optional edge is -.->, the other -->"
((PW_FAIL == f0)) || pw_show

pw_done
