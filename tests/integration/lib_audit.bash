# The audit store scenarios shared by audit_sqlite.sh and audit_pg.sh
# (sourced; not *.sh, so ctest does not run it on its own).
#
# The backend script defines, before calling audit_scenarios:
#   BACKEND                sqlite | postgresql
#   be_store NAME          prints the --store value of a fresh store NAME
#                          (created on first use; one store per scenario, as
#                          tampering breaks a chain for good)
#   be_sql NAME SQL        runs SQL on store NAME as pitwall's own role (the
#                          table's owner); prints rows as a|b; the exit status
#                          and stderr are the client's (sqlite3 / psql)
#   be_sql_untriggered NAME SQL
#                          runs SQL with the append-only triggers out of the
#                          way, as someone tampering with the database would
#                          (SQLite: DROP TRIGGER; PostgreSQL: ALTER TABLE ...
#                          DISABLE TRIGGER USER as the owner)
#
# Needs lib.bash (pw_setup done) and PITWALL_HOME set to a temp dir.

# --- DAGs ------------------------------------------------------------------

# write_quick_dag FILE DAG_ID NTASKS [SLEEP] [MAX_ACTIVE]: NTASKS independent
# tasks, each `sleep SLEEP` (default: /bin/true).
write_quick_dag() {
	local file=$1 id=$2 n=$3 s=${4:-} j=${5:-} i
	{
		echo "dag_id: $id"
		[[ -n $j ]] && echo "max_active_tasks: $j"
		echo "tasks:"
		for ((i = 1; i <= n; i++)); do
			printf '  - task_id: t%03d\n' "$i"
			if [[ -n $s ]]; then
				echo "    command: [\"sleep\", \"$s\"]"
			else
				echo "    command: [\"/bin/true\"]"
			fi
		done
	} >"$file"
}

# --- reading events and rows ------------------------------------------------

# events_by_type FILE: the JSON event lines pitwall printed on stderr
# (--log-format json), as "type:count,..." sorted by type.
events_by_type() {
	python3 - "$1" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    if not line.startswith("{"):
        continue  # pitwall's own warnings
    try:
        e = json.loads(line)
    except ValueError:
        e = json.loads(line.rstrip("\n") + "}")  # tolerate an unclosed event line
    c[e["event_type"]] += 1
print(",".join("%s:%d" % kv for kv in sorted(c.items())))
PY
}

# sum_counts "type:count,...": the total.
sum_counts() {
	local total=0 kv
	for kv in ${1//,/ }; do
		total=$((total + ${kv##*:}))
	done
	echo "$total"
}

# rows_by_type NAME RUN_ID: the same for the rows of RUN_ID in store NAME,
# counted by the database itself.
rows_by_type() {
	be_sql "$1" "SELECT event_type || ':' || count(*) FROM pipeline_audit_log
		WHERE dag_run_id = '$2' GROUP BY event_type ORDER BY event_type" | paste -sd, -
}

# row_count NAME [WHERE]
row_count() {
	be_sql "$1" "SELECT count(*) FROM pipeline_audit_log ${2:+WHERE $2}"
}

# The canonical JSON of docs/audit.md in Python (what jansson's JSON_COMPACT |
# JSON_SORT_KEYS | JSON_ENSURE_ASCII writes), to check pitwall independently.
AUDIT_PY_CANON='
import hashlib, json, re, sys

def canon(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, int): return str(v)
    if isinstance(v, float):
        s = "%.17g" % v
        return s if re.search(r"[.eE]", s) else s + ".0"
    if isinstance(v, str):
        s = json.dumps(v, ensure_ascii=True)
        return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), s)
    if isinstance(v, list): return "[" + ",".join(canon(x) for x in v) + "]"
    return "{" + ",".join(canon(k) + ":" + canon(v[k]) for k in sorted(v)) + "}"

def row_hash(r):
    body = {k: v for k, v in r.items() if k not in ("prev_hash", "hash")}
    return hashlib.sha256((r["prev_hash"] + canon(body)).encode()).hexdigest()
'

# chain_check_py: reads `pitwall audit query --json` on stdin and recomputes
# every hash with the algorithm docs/audit.md documents, independently of
# pitwall's C code.  Prints "ok N" or "bad SEQ".
chain_check_py() {
	python3 -c "$AUDIT_PY_CANON"'
prev, n = "0" * 64, 0
for line in sys.stdin:
    r = json.loads(line)
    n += 1
    if r["seq"] != n or r["prev_hash"] != prev or r["hash"] != row_hash(r):
        print("bad", r["seq"]); sys.exit(0)
    prev = r["hash"]
print("ok", n)
'
}

# verify NAME: `pitwall audit verify --store` on store NAME; sets RC, OUT, ERR.
verify() {
	pw_cmd audit verify --store "$(be_store "$1")"
}

# verify_json NAME EXPR: a field of `pitwall audit verify --json`.
verify_json() {
	pw_cmd audit verify --json --store "$(be_store "$1")"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$OUT" "$2" 2>/dev/null || echo "<no JSON: $(head -c 300 "$OUT" "$ERR")>"
}

# --- scenarios ------------------------------------------------------------

scenario_smoke_and_views() {
	local S SMOKE=$PW_SOURCE_DIR/dags/smoke.yaml RID=smoke_audit_1 n
	S=$(be_store main)
	pw_run smoke "$SMOKE" --store "$S" --run-id $RID
	check_eq "$RC" 0 "$BACKEND: pitwall run dags/smoke.yaml --store: exit 0"
	((RC == 0)) || pw_show
	local smoke_ws=$WS smoke_err=$ERR
	check_eq "$(rows_by_type main $RID)" "$(events_by_type "$smoke_err")" \
		"$BACKEND: every event printed on stderr is in the table (same count per event_type)"
	n=$(row_count main)
	verify main
	check_eq "$RC" 0 "$BACKEND: audit verify on an intact chain: exit 0"
	check_match "$(cat "$OUT")" "intact: $n rows verified" "$BACKEND: verify reports all $n rows"
	check_eq "$(verify_json main 'd["ok"], d["rows"]')" "(True, $n)" \
		"$BACKEND: audit verify --json: ok true, rows $n"
	pw_cmd audit query --json --store "$S"
	check_eq "$(chain_check_py <"$OUT")" "ok $n" \
		"$BACKEND: an independent recomputation (sha256(prev_hash || canonical JSON)) agrees"

	# Append-only, enforced by the database itself.
	local before after
	before=$(be_sql main "SELECT status FROM pipeline_audit_log WHERE seq = 3")
	RC=0
	be_sql main "UPDATE pipeline_audit_log SET status = 'tampered' WHERE seq = 3" \
		>"$T/upd.out" 2>"$T/upd.err" || RC=$?
	check "$BACKEND: UPDATE is rejected by the database" test "$RC" -ne 0
	check_match "$(cat "$T/upd.err")" "append-only" "$BACKEND: ... by the append-only trigger"
	after=$(be_sql main "SELECT status FROM pipeline_audit_log WHERE seq = 3")
	check_eq "$after" "$before" "$BACKEND: the row is unchanged after the rejected UPDATE"
	RC=0
	be_sql main "DELETE FROM pipeline_audit_log WHERE seq = 4" >"$T/del.out" 2>"$T/del.err" ||
		RC=$?
	check "$BACKEND: DELETE is rejected by the database" test "$RC" -ne 0
	check_match "$(cat "$T/del.err")" "append-only" "$BACKEND: ... by the append-only trigger"
	check_eq "$(row_count main)" "$n" "$BACKEND: no row deleted"
	if [[ $BACKEND == postgresql ]]; then
		RC=0
		be_sql main "TRUNCATE pipeline_audit_log" >"$T/tr.out" 2>"$T/tr.err" || RC=$?
		check "$BACKEND: TRUNCATE is rejected by the database" test "$RC" -ne 0
		check_match "$(cat "$T/tr.err")" "append-only" "$BACKEND: ... by the append-only trigger"
		check_eq "$(row_count main)" "$n" "$BACKEND: no row truncated"
	fi
	verify main
	check_eq "$RC" 0 "$BACKEND: the chain is still intact after the rejected changes"

	# Lineage of the smoke DAG: report <- merge <- evens, odds <- extract.
	pw_cmd lineage report.txt --run $RID --json --store "$S"
	check_eq "$RC" 0 "$BACKEND: pitwall lineage report.txt --run --json: exit 0"
	check_eq "$(python3 - "$OUT" "$smoke_ws" $RID <<'PY'
import hashlib, json, sys
try:
    t = json.load(open(sys.argv[1]))
    ws, rid = sys.argv[2], sys.argv[3]
    def by(n): return n["produced_by"]["task_id"]
    def ok_node(n):
        sha = hashlib.sha256(open(ws + "/" + n["path"], "rb").read()).hexdigest()
        assert n["sha256"] == sha, (n["path"], "sha256")
        assert n["produced_by"]["run_id"] == rid, n["path"]
    assert t["path"] == "report.txt" and by(t) == "report", "root"
    ok_node(t)
    merge, = t["inputs"]
    assert merge["path"] == "data/all.txt" and by(merge) == "merge", "merge"
    ok_node(merge)
    kids = {by(k): k for k in merge["inputs"]}
    assert sorted(kids) == ["evens", "odds"], sorted(kids)
    for k in kids.values():
        ok_node(k)
        ex, = k["inputs"]
        assert ex["path"] == "data/numbers.txt" and by(ex) == "extract", "extract"
        ok_node(ex)
        assert ex["inputs"] == [], "extract has no inputs"
    print("ok")
except Exception as e:
    print("bad: %r" % (e,))
PY
)" ok "$BACKEND: lineage names report <- merge <- evens + odds <- extract, with the files' sha256"

	# The read commands, all a fold over the same rows.
	pw_cmd status $RID --json --store "$S"
	check_eq "$RC" 0 "$BACKEND: pitwall status RUN --json: exit 0"
	check_eq "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["task_id"]: x for x in d["tasks"]}
print(d["status"], d["run_id"], len(t), all(x["state"] == "success" for x in t.values()), t["odds"]["attempts"])
' "$OUT" 2>&1)" "success $RID 5 True 2" "$BACKEND: status: success, 5 tasks succeeded, odds took 2 attempts"
	pw_cmd history --json --store "$S"
	check_eq "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print([(r["run_id"], r["status"], r["dag_id"]) for r in d])' "$OUT" 2>&1)" \
		"[('$RID', 'success', 'smoke')]" "$BACKEND: history --json lists the run as success"
	pw_cmd audit query --json --run $RID --event task_end --store "$S"
	check_eq "$(python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(len(rows), sorted({r["task_id"] for r in rows}), {r["status"] for r in rows})' "$OUT" 2>&1)" \
		"5 ['evens', 'extract', 'merge', 'odds', 'report'] {'success'}" \
		"$BACKEND: audit query --run --event task_end --json: one success row per task"
	pw_cmd audit query --json -n 3 --store "$S"
	check_eq "$(python3 -c '
import json, sys
print([json.loads(l)["seq"] for l in open(sys.argv[1])])' "$OUT" 2>&1)" \
		"[$((n - 2)), $((n - 1)), $n]" "$BACKEND: audit query -n 3: the last 3 rows, in seq order"
	pw_cmd logs $RID odds --attempt 1 --store "$S"
	check_match "$(cat "$OUT")" "simulated transient failure on attempt 1" \
		"$BACKEND: pitwall logs RUN odds --attempt 1 prints that attempt's log"
}

# tamper_case NAME DESC SQL WANT_SEQ [untriggered]: a fresh store with a
# 6-task run (20 rows), SQL (or, for @FUNC, the output of FUNC NAME) applied (with the triggers out of the way when
# the 5th argument is "untriggered", the default), then verify must exit 1 naming WANT_SEQ.
tamper_case() {
	local name=$1 desc=$2 sql=$3 want=$4 how=${5:-untriggered} S
	S=$(be_store "$name")
	pw_run "$name" "$T/tiny.yaml" --store "$S" --run-id "tiny_$name"
	verify "$name"
	if ((RC != 0)); then
		pw_notok "$BACKEND: $desc: the chain is intact before tampering" "$(cat "$OUT" "$ERR")"
		return
	fi
	[[ $sql == @* ]] && sql=$(${sql#@} "$name")
	[[ $want == next ]] && want=$(($(row_count "$name") + 1))
	RC=0
	if [[ $how == untriggered ]]; then
		be_sql_untriggered "$name" "$sql" >"$T/$name.sql.out" 2>&1 || RC=$?
	else
		be_sql "$name" "$sql" >"$T/$name.sql.out" 2>&1 || RC=$?
	fi
	if ((RC != 0)); then
		pw_notok "$BACKEND: $desc: tampering SQL failed" "$(cat "$T/$name.sql.out")"
		return
	fi
	verify "$name"
	local text
	text=$(cat "$OUT")
	if [[ $RC == 1 && $text == *"BROKEN at seq $want "* ]]; then
		pw_ok "$BACKEND: $desc: verify exits 1 and names seq $want"
	else
		pw_notok "$BACKEND: $desc: verify exits 1 and names seq $want" "exit $RC" "$text" \
			"$(cat "$ERR")"
	fi
	check_eq "$(verify_json "$name" 'd["ok"], d["bad_seq"]')" "(False, $want)" \
		"$BACKEND: $desc: verify --json says ok false, bad_seq $want"
}

# rehash_sql NAME: SQL that sets seq 7's status to failed and its hash to the
# one the documented algorithm gives for the edited row.
rehash_sql() {
	local h
	pw_cmd audit query --json --store "$(be_store "$1")"
	h=$(python3 -c "$AUDIT_PY_CANON"'
rows = [json.loads(l) for l in open(sys.argv[1])]
r = rows[6]
assert r["seq"] == 7
r["status"] = "failed"
print(row_hash(r))' "$OUT")
	echo "UPDATE pipeline_audit_log SET status = 'failed', hash = '$h' WHERE seq = 7"
}

# forged_sql NAME: an INSERT of a row after the last one, with a made-up hash.
forged_sql() {
	local z64 next
	z64=$(printf 'f%.0s' {1..64})
	next=$(($(row_count "$1") + 1))
	echo "INSERT INTO pipeline_audit_log (audit_id, seq, timestamp, dag_id, dag_run_id, task_id,
	   event_type, status, metadata, prev_hash, hash)
	 VALUES ('0b0e6f5e-5c4a-4f1e-9a57-1d2b3c4d5e6f', $next, '2026-01-01T00:00:00.000Z',
	   'tiny', 'tiny_t_forged', 't001', 'task_end', 'success', '{}', '$z64', '$z64')"
}

scenario_tampering() {
	write_quick_dag "$T/tiny.yaml" tiny 6
	# 6 tasks: dag_run_start, 3 rows per task, dag_run_end: 20 rows, seq 1..20.
	tamper_case t_status "an edited row (status of seq 7)" \
		"UPDATE pipeline_audit_log SET status = 'failed' WHERE seq = 7" 7
	tamper_case t_meta "an edited row (metadata of seq 9)" \
		"UPDATE pipeline_audit_log SET metadata = '{\"attempt\":1,\"exit_code\":0}' WHERE seq = 9" 9
	tamper_case t_actor "an edited row (actor of the first row)" \
		"UPDATE pipeline_audit_log SET actor = 'someone@else' WHERE seq = 1" 1
	tamper_case t_delete "a deleted row in the middle (seq 10; seq 11 is the first bad row)" \
		"DELETE FROM pipeline_audit_log WHERE seq = 10" 11
	tamper_case t_reorder "a reordered pair (seq 5 and 6 swapped)" \
		"UPDATE pipeline_audit_log SET seq = -1 WHERE seq = 5;
		 UPDATE pipeline_audit_log SET seq = 5 WHERE seq = 6;
		 UPDATE pipeline_audit_log SET seq = 6 WHERE seq = -1" 5
	# Edit a row and recompute its own hash with the documented algorithm: the
	# next row's prev_hash still gives it away.
	tamper_case t_rehash "an edited row whose own hash was recomputed (seq 8's prev_hash gives it away)" \
		@rehash_sql 8
	# INSERT is allowed: a forged row appended with a made-up hash.
	tamper_case t_forged "a forged row appended with INSERT (the next seq)" @forged_sql next triggered
}

scenario_concurrent_writers() {
	local S
	S=$(be_store conc)
	write_quick_dag "$T/conc.yaml" conc 50 0.02 5
	# A row before the runs, so both runs start on a non-empty chain.
	pw_run conc0 "$T/tiny.yaml" --store "$S" --run-id conc_0
	local base
	base=$(row_count conc)
	local a b rca=0 rcb=0
	timeout -k 5 120 "$PITWALL" run "$T/conc.yaml" --store "$S" --run-id conc_a \
		--workspace "$T/conc_a" --log-format json >"$T/conc_a.out" 2>"$T/conc_a.err" &
	a=$!
	timeout -k 5 120 "$PITWALL" run "$T/conc.yaml" --store "$S" --run-id conc_b \
		--workspace "$T/conc_b" --log-format json >"$T/conc_b.out" 2>"$T/conc_b.err" &
	b=$!
	wait $a || rca=$?
	wait $b || rcb=$?
	check_eq "$rca $rcb" "0 0" "$BACKEND: two concurrent pitwall runs on one store: both exit 0"
	local ea eb
	ea=$(events_by_type "$T/conc_a.err")
	eb=$(events_by_type "$T/conc_b.err")
	check_match "$ea,$eb" "task_end:50,.*task_end:50," \
		"$BACKEND: both runs printed a task_end for each of their 50 tasks"
	local both=$(($(sum_counts "$ea") + $(sum_counts "$eb")))
	check_eq "$(rows_by_type conc conc_a)" "$ea" "$BACKEND: all of run A's events are in the table"
	check_eq "$(rows_by_type conc conc_b)" "$eb" "$BACKEND: all of run B's events are in the table"
	check_eq "$(row_count conc)" "$((base + both))" \
		"$BACKEND: the table holds exactly both runs' rows ($both)"
	check_eq "$(be_sql conc "SELECT count(DISTINCT seq) || ' ' || min(seq) || ' ' || max(seq)
		FROM pipeline_audit_log")" "$((base + both)) 1 $((base + both))" \
		"$BACKEND: seq runs 1..N without gaps or duplicates"
	# The runs really overlapped: their rows interleave in the chain.
	local inter
	inter=$(be_sql conc "SELECT count(*) FROM pipeline_audit_log
		WHERE dag_run_id = 'conc_a' AND seq > (SELECT min(seq) FROM pipeline_audit_log
		WHERE dag_run_id = 'conc_b') AND seq < (SELECT max(seq) FROM pipeline_audit_log
		WHERE dag_run_id = 'conc_b')")
	check "$BACKEND: the two runs' rows interleave (they really ran at once; $inter rows)" \
		test "${inter:-0}" -gt 0
	verify conc
	check_eq "$RC" 0 "$BACKEND: verify: a single valid chain after two concurrent writers"
	((RC == 0)) || cat "$OUT" "$ERR" | sed 's/^/#   /'
}

audit_scenarios() {
	scenario_smoke_and_views
	scenario_tampering
	scenario_concurrent_writers
}
