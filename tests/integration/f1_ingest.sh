#!/usr/bin/env bash
# f1-ingest (tasks/ingest.c) against the local Jolpica-shaped server
# (tests/helpers/jolpica_server.c) and the Ergast CSV dump in ../shared/data/f1.
# Everything runs on 127.0.0.1; nothing here reaches the internet.
#
#  - every one of the 72 recorded Jolpica responses parses, with the row count an
#    independent python3 count gives; the server answers those requests in the same shape
#  - one season over HTTP equals --from-csv for it (the columns both sources provide)
#  - 429 with Retry-After then success; 500s then success; retries exhausted -> 75;
#    a truncated body -> 65 naming the page; a connection cut mid-body is transient
#  - pagination (laps split mid-lap), incremental mode (requests counted in the access
#    log), rate limiter lower bounds, determinism, configuration errors
# Self-contained (no lib.bash): TAP lines "ok N - ...", then "N passed, M failed".
set -euo pipefail
PW_N=0 PW_PASS=0 PW_FAIL=0 PW_DONE=0
pw_ok() {
	PW_N=$((PW_N + 1)) PW_PASS=$((PW_PASS + 1))
	echo "ok $PW_N - $1"
}
pw_notok() {
	PW_N=$((PW_N + 1)) PW_FAIL=$((PW_FAIL + 1))
	echo "not ok $PW_N - $1"
	shift
	local line
	for line in "$@"; do
		printf '#   %s\n' "$line"
	done
}
check() {
	local desc=$1
	shift
	if "$@"; then pw_ok "$desc"; else pw_notok "$desc" "command failed: $*"; fi
}
check_eq() {
	if [[ $1 == "$2" ]]; then pw_ok "$3"; else pw_notok "$3" "expected: $2" "got:      $1"; fi
}
check_match() {
	if [[ $1 =~ $2 ]]; then
		pw_ok "$3"
	else
		pw_notok "$3" "expected to match: $2" "got: $(printf '%s' "$1" | head -c 2000)"
	fi
}
check_le() { # A <= B (integers)
	if [[ $1 =~ ^-?[0-9]+$ && $2 =~ ^-?[0-9]+$ ]] && (($1 <= $2)); then
		pw_ok "$3"
	else
		pw_notok "$3" "expected $1 <= $2"
	fi
}
check_same() { # FILE FILE DESC: identical bytes
	if cmp -s "$1" "$2"; then pw_ok "$3"; else pw_notok "$3" "$(diff "$1" "$2" 2>&1 | head -5)"; fi
}
count_lines() {
	if [[ -f $1 ]]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}
pw_done() {
	PW_DONE=1
	echo "1..$PW_N"
	echo "$PW_PASS passed, $PW_FAIL failed"
	((PW_FAIL == 0))
}

INGEST=${PW_BUILD_DIR:-}/bin/f1-ingest
SERVER=${PW_HELPERS:-}/jolpica_server
SHARED=${PW_SHARED_DIR:-${PW_SOURCE_DIR:-.}/../shared}
DATA=$SHARED/data/f1
FIX=$SHARED/data/jolpica
if [[ ! -x $INGEST ]]; then
	echo "# $INGEST not built; skipping"
	exit 77
fi
if [[ ! -x $SERVER ]]; then
	echo "# $SERVER not built; skipping"
	exit 77
fi
if [[ ! -f $DATA/races.csv || ! -d $FIX ]]; then
	echo "# no shared data in $SHARED; skipping"
	exit 77
fi
if ! type -P python3 >/dev/null; then
	echo "# python3 is needed; skipping"
	exit 77
fi
# never through a proxy: every URL here is 127.0.0.1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
unset F1_SOURCE F1_SEASONS F1_RATE F1_HOURLY PITWALL_WORKSPACE

T=$(mktemp -d "${TMPDIR:-/tmp}/pw-f1ingest.XXXXXX")
export TMPDIR=$T # the rate limiter's shared state files go here
SERVER_PIDS=()
cleanup() {
	local rc=$? pid
	if ((PW_DONE == 0)); then
		pw_notok "the script ran to its end" "it stopped with exit status $rc"
		echo "1..$PW_N"
		echo "$PW_PASS passed, $PW_FAIL failed"
		((rc != 0)) || rc=1
	fi
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n ${PW_KEEP:-} ]]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT

# srv NAME [ARGS...]: starts a server (port 0), sets URL (its base URL) and LOG (its
# access log: "MS STATUS BYTES METHOD TARGET" per request).
srv() {
	local name=$1
	shift
	rm -f "$T/$name.port"
	"$SERVER" --data "$DATA" --port-file "$T/$name.port" --log "$T/$name.log" \
		--exit-after 280 "$@" >/dev/null 2>"$T/$name.srv.err" &
	SERVER_PIDS+=($!)
	for _ in $(seq 200); do
		[[ -s $T/$name.port ]] && break
		sleep 0.05
	done
	URL="http://127.0.0.1:$(cat "$T/$name.port" 2>/dev/null)/ergast/f1"
	LOG=$T/$name.log
	touch "$LOG"
}

# ingest NAME ARGS...: runs f1-ingest (killed after 120 s); sets RC, ERR (stderr file).
ingest() {
	local name=$1
	shift
	ERR=$T/$name.err
	RC=0
	timeout -k 5 120 "$INGEST" "$@" >"$T/$name.out" 2>"$ERR" </dev/null || RC=$?
}

requests() { # requests in an access log matching an ERE (default: all)
	grep -cE "${2:-.}" "$1" || true
}

# ---------------------------------------------------------------- usage
ingest help --help
check_eq "$RC" 0 "--help exits 0"
check_match "$(cat "$T/help.out")" 'incremental' "--help documents --incremental"

# ---------------------------------------------------------------- the 72 recorded responses
nfix=$(find "$FIX" -type f -name '*.json*' | wc -l)
check_eq "$nfix" 72 "72 recorded Jolpica responses in $FIX"
find "$FIX" -type f -name '*.json*' | sort >"$T/fixtures"
mapfile -t fixtures <"$T/fixtures"
ingest fixtures --parse-fixture "${fixtures[@]}"
check_eq "$RC" 0 "f1-ingest --parse-fixture parses all 72 responses"
# an independent count: the leaf items of each response's table
python3 - "$T/fixtures" >"$T/fixtures.want" <<'PY'
import json, sys
for path in open(sys.argv[1]).read().split("\n"):
    if not path:
        continue
    m = json.load(open(path))["MRData"]
    if "RaceTable" in m:
        n = 0
        for race in m["RaceTable"]["Races"]:
            if "Results" in race: n += len(race["Results"])
            elif "PitStops" in race: n += len(race["PitStops"])
            elif "Laps" in race: n += sum(len(l["Timings"]) for l in race["Laps"])
            elif "QualifyingResults" in race: n += len(race["QualifyingResults"])
            else: n += 1
    else:
        (table,) = [k for k in m if k.endswith("Table")]
        (lst,) = [v for v in m[table].values() if isinstance(v, list)]
        n = len(lst)
    print("%s rows=%d total=%s offset=%s" % (path, n, m["total"], m["offset"]))
PY
sed -n 's/^parsed \(.*\): table=[^ ]* \(rows=[0-9]*\) \(total=[0-9]*\) \(offset=[0-9]*\) .*/\1 \2 \3 \4/p' \
	"$ERR" >"$T/fixtures.got"
if diff "$T/fixtures.want" "$T/fixtures.got" >"$T/fixtures.diff"; then
	pw_ok "row counts of all 72 responses equal python's (and total, offset)"
else
	pw_notok "row counts of all 72 responses equal python's" "$(head -20 "$T/fixtures.diff")"
fi
check_eq "$(grep -c '^parsed ' "$ERR")" 72 "72 'parsed' summary lines"
# a laps page: one CSV row per timing, driver ids as refs
check_match "$(grep -A2 '2023@1@laps.json$' "$T/fixtures.out")" \
	'2023,1,1,max_verstappen,ref,1,1:39.019,\\N' "laps page -> lap_times rows (id_kind ref, Z-less)"
check_match "$(grep -A2 'races/2023@races.json$' "$T/fixtures.out")" \
	'\\N,2023,1,\\N,Bahrain Grand Prix,2023-03-05,15:00:00,' "races page -> races row, time without Z"

# ---------------------------------------------------------------- the server's shape
srv shape
python3 - "$FIX" "$URL" >"$T/shape.out" 2>&1 <<'PY' || true
import json, os, sys, urllib.request
fix, base = sys.argv[1], sys.argv[2]
def shape(v):
    # the structure with every scalar replaced by its JSON type
    if isinstance(v, dict): return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list): return [shape(x) for x in v[:1]]
    return type(v).__name__
same = differ = 0
for d in sorted(os.listdir(fix)):
    if not os.path.isdir(os.path.join(fix, d)): continue
    for f in sorted(os.listdir(os.path.join(fix, d))):
        path, _, q = f.partition("^")
        want = json.load(open(os.path.join(fix, d, f)))
        got = json.load(urllib.request.urlopen(base + "/" + path.replace("@", "/") + ("?" + q if q else "")))
        for x in (want, got):
            assert set(x["MRData"]) >= {"xmlns", "series", "url", "limit", "offset", "total"}
            assert all(isinstance(x["MRData"][k], str) for k in ("limit", "offset", "total"))
            x["MRData"].pop("url")
        # same data where the dump and the live database agree; the same shape always
        # when both have rows
        if want == got or want["MRData"]["total"] == "0" or got["MRData"]["total"] == "0" or shape(want) == shape(got):
            same += 1
        else:
            differ += 1
            print("differs:", d + "/" + f)
        if want == got: print("identical:", d + "/" + f)
print("same-shape %d differ %d" % (same, differ))
PY
check_match "$(tail -1 "$T/shape.out")" '^same-shape 72 differ 0$' \
	"server answers the 72 recorded requests in Jolpica's shape"
nident=$(grep -c '^identical:' "$T/shape.out" || true)
check_le 40 "$nident" "at least 40 of them identical apart from url ($nident)"
check_match "$(grep identical: "$T/shape.out")" 'laps/2023@1@laps.json' "laps 2023/1 page identical"
check_match "$(grep identical: "$T/shape.out")" 'pitstops/2023@1@pitstops.json\^offset=30' \
	"pit stops page 2 (offset=30) identical"
check_match "$(grep identical: "$T/shape.out")" 'results/2023@99@results.json' \
	"empty result: total 0, empty Races, identical"

# ---------------------------------------------------------------- HTTP == CSV for one season
srv main
ingest http2023 --base-url "$URL" --seasons 2023 --out "$T/http2023" --rate 0
check_eq "$RC" 0 "ingest 2023 from the local server exits 0"
check_match "$(cat "$ERR")" 'GET http://127.0.0.1:[0-9]+/ergast/f1/2023/1/laps.json' "progress lines on stderr"
ingest csv2023 --from-csv "$DATA" --seasons 2023 --out "$T/csv2023"
check_eq "$RC" 0 "ingest 2023 --from-csv exits 0"
for f in races results pit_stops drivers circuits lap_times; do
	check_le 2 "$(count_lines "$T/http2023/$f.csv")" "http: raw/$f.csv has rows"
	check_eq "$(head -1 "$T/http2023/$f.csv")" "$(head -1 "$T/csv2023/$f.csv")" "raw/$f.csv: same header"
done
# the columns both sources provide, rows on the contract's keys, compared as text
cat >"$T/project.py" <<'PY'
import csv, sys
DROP = {"races": {"raceId", "circuitId"},
        "results": {"resultId", "raceId", "driverId", "constructorId", "statusId"},
        "pit_stops": {"raceId", "driverId", "milliseconds"},
        "drivers": {"driverId"}, "circuits": {"circuitId", "alt"}}
KEY = {"races": ("year", "round"), "results": ("year", "round", "positionOrder"),
       "pit_stops": ("year", "round", "lap", "time", "driverRef"),
       "drivers": ("driverRef",), "circuits": ("circuitRef",)}
path, name = sys.argv[1], sys.argv[2]
with open(path, newline="") as f:
    rows = list(csv.reader(f))
hdr = rows[0]
keep = [i for i, h in enumerate(hdr) if h not in DROP[name]]
ki = [hdr.index(k) for k in KEY[name]]
key = lambda r: [(0, int(r[i]), "") if r[i].isdigit() else (1, 0, r[i]) for i in ki]
w = csv.writer(sys.stdout, lineterminator="\n")
for r in [hdr] + sorted(rows[1:], key=key):
    w.writerow([r[i] for i in keep])
PY
for f in races results pit_stops drivers circuits; do
	python3 "$T/project.py" "$T/http2023/$f.csv" $f >"$T/http2023.$f.p"
	python3 "$T/project.py" "$T/csv2023/$f.csv" $f >"$T/csv2023.$f.p"
	if cmp -s "$T/http2023.$f.p" "$T/csv2023.$f.p"; then
		pw_ok "2023 $f.csv: HTTP == --from-csv byte for byte (shared columns, $(count_lines "$T/http2023.$f.p") lines)"
	else
		pw_notok "2023 $f.csv: HTTP == --from-csv" "$(diff "$T/http2023.$f.p" "$T/csv2023.$f.p" | head -8)"
	fi
done
# numeric ids are \N from the API, filled from the dump (the contract)
check_eq "$(awk -F, 'NR==2{print $1","$4","$19}' "$T/http2023/races.csv")" '\N,\N,bahrain' \
	"API races: raceId, circuitId \\N; circuitRef appended"
check_match "$(awk -F, 'NR==2{print $1","$4","$19}' "$T/csv2023/races.csv")" '^[0-9]+,[0-9]+,[a-z_]+$' \
	"dump races: numeric ids kept, circuitRef appended"
# lap_times: the API gives refs and positions, the dump names and gaps; the lap times, the
# order within each lap and the number of rows are the same
cat >"$T/laps.py" <<'PY'
import csv, sys
a = list(csv.DictReader(open(sys.argv[1]))); b = list(csv.DictReader(open(sys.argv[2])))
g = lambda rows: {k: [r for r in rows if (r["year"], r["round"], r["lap"]) == k]
                  for k in dict.fromkeys((r["year"], r["round"], r["lap"]) for r in rows)}
ga, gb = g(a), g(b)
bad = [k for k in ga if [r["lap_time"] for r in ga[k]] != [r["lap_time"] for r in gb.get(k, [])]
       or [r["position"] for r in ga[k]] != [str(i + 1) for i in range(len(ga[k]))]]
kinds = {(r["id_kind"], r["position"] == "\\N", r["gap_to_leader"] == "\\N") for r in a} | \
        {(r["id_kind"], r["position"] == "\\N", r["gap_to_leader"] == "\\N") for r in b}
print(len(a), len(b), len(ga), len(gb), len(bad), sorted(kinds))
PY
check_eq "$(python3 "$T/laps.py" "$T/http2023/lap_times.csv" "$T/csv2023/lap_times.csv")" \
	"5046 5046 273 273 0 [('name', True, False), ('ref', False, True)]" \
	"2023 lap_times: same laps and times; API ref+position, dump name+gap"
awk -F, 'NR>1{print $4}' "$T/http2023/lap_times.csv" | sort -u >"$T/lapids"
awk -F, 'NR>1{print $2}' "$T/http2023/drivers.csv" | sort -u >"$T/refs"
check_eq "$(comm -23 "$T/lapids" "$T/refs" | tr '\n' ' ')" "" \
	"every lap-times driver is an Ergast ref of the season (server maps forename_surname)"
check_eq "$(grep -c '^leclerc$\|^perez$\|^zhou$\|^hulkenberg$' "$T/lapids")" 4 \
	"... charles_leclerc, sergio_perez, zhou_guanyu, nico_hulkenberg mapped"

# determinism: a second run gives the same bytes, pages included
ingest http2023b --base-url "$URL" --seasons 2023 --out "$T/http2023b" --rate 0
if diff -r "$T/http2023" "$T/http2023b" >/dev/null; then
	pw_ok "a second HTTP run writes identical files (CSVs and raw/json pages)"
else
	pw_notok "a second HTTP run writes identical files" "$(diff -r "$T/http2023" "$T/http2023b" | head -5)"
fi
check_eq "$(find "$T/http2023/json" -type f | wc -l)" "$(requests "$LOG" '/ergast/f1/2023/' | awk '{print $1/2}')" \
	"one raw/json page per request"
check "raw/json pages named like the Jolpica fixtures" \
	test -f "$T/http2023/json/laps/2023@1@laps.json" -a -f "$T/http2023/json/laps/2023@1@laps.json^offset=100" \
	-a -f "$T/http2023/json/results/2023@9@results.json" -a -f "$T/http2023/json/races/2023@races.json"
check_eq "$(grep -c '"time"' "$T/http2023/races.csv" || true)" 0 "no stray quoting"

# ---------------------------------------------------------------- pagination
srv pages
ingest pages --base-url "$URL" --seasons 2023 --what laps --out "$T/pages" --rate 0 --page-size 30
check_eq "$RC" 0 "laps with 30-row pages: exit 0"
check_eq "$(requests "$LOG" '/2023/1/laps.json')" 36 "2023/1 laps: 1055 timings = 36 pages of 30"
check_eq "$(python3 - "$T/pages/json/laps" <<'PY'
import json, os, sys
d = sys.argv[1]
def laps(name):
    return [l["number"] for l in json.load(open(os.path.join(d, name)))["MRData"]["RaceTable"]["Races"][0]["Laps"]]
a, b = laps("2023@1@laps.json"), laps("2023@1@laps.json^offset=30")
print("split" if a[-1] == b[0] else "not split", a[-1], b[0])
PY
)" "split 2 2" "page 1 ends and page 2 starts inside lap 2 (split mid-lap)"
if cmp -s "$T/pages/lap_times.csv" "$T/http2023/lap_times.csv"; then
	pw_ok "lap_times.csv from 30-row pages == from 100-row pages"
else
	pw_notok "lap_times.csv from 30-row pages == from 100-row pages"
fi

# ---------------------------------------------------------------- incremental mode
srv incr
ingest inc1 --base-url "$URL" --seasons 2022 --what core --out "$T/inc" --rate 0
check_eq "$RC" 0 "incremental: first run (2022 core) exits 0"
first=$(requests "$LOG")
cp -r "$T/inc" "$T/inc.full"
rm "$T/inc/json/results/2022@21@results.json" "$T/inc/json/pitstops/2022@22@pitstops.json"
: >"$LOG"
ingest inc2 --base-url "$URL" --seasons 2022 --what core --out "$T/inc" --rate 0 --incremental
check_eq "$RC" 0 "incremental: second run exits 0"
check_eq "$(requests "$LOG")" 5 "incremental: 5 requests (season pages + the 2 missing rounds), not $first"
check_eq "$(requests "$LOG" '2022/21/results|2022/22/pitstops')" 2 "incremental: exactly the missing rounds fetched"
same=1
for f in races results pit_stops drivers circuits; do
	cmp -s "$T/inc/$f.csv" "$T/inc.full/$f.csv" || same=0
done
check_eq "$same" 1 "incremental output == the full run's"
: >"$LOG"
ingest inc3 --base-url "$URL" --seasons 2021-2023 --what core --out "$T/inc" --rate 0 --incremental
check_eq "$(requests "$LOG" '/2022/')" 0 "incremental 2021-2023: nothing of 2022 fetched again"
check_le 47 "$(requests "$LOG" '/2023/')" "incremental 2021-2023: 2023 fetched (3 + 22 x 2 requests at least)"
check_le 47 "$(requests "$LOG" '/2021/')" "incremental 2021-2023: 2021 fetched"
check_le 90 "$(requests "$LOG")" "incremental 2021-2023: ~2 seasons of requests ($(requests "$LOG"))"
: >"$LOG"
ingest inc4 --base-url "$URL" --seasons 2021-2023 --what core --out "$T/inc" --rate 0 --incremental
check_eq "$(requests "$LOG")" 0 "incremental, nothing missing: 0 requests"
check_eq "$(count_lines "$T/inc/races.csv")" 67 "incremental: races.csv has 3 seasons (66 rows)"
# a damaged page is noticed and fetched again
head -c 500 "$T/inc.full/json/results/2022@3@results.json" >"$T/inc/json/results/2022@3@results.json"
: >"$LOG"
ingest inc5 --base-url "$URL" --seasons 2022 --what core --out "$T/inc" --rate 0 --incremental
check_eq "$(requests "$LOG" '2022/3/results')" 1 "incremental: a truncated page on disk is fetched again"
check_match "$(cat "$ERR")" 'warning: 2022/3/results.json: .*2022@3@results.json: line 1, column [0-9]+' \
	"incremental: the damaged page is named with line and column"

# ---------------------------------------------------------------- faults
srv f429 --fail-429 2 --retry-after 1
t0=$(date +%s%N)
ingest f429 --base-url "$URL" --seasons 2023 --what races --out "$T/f429" --rate 0
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "$RC" 0 "429 twice (Retry-After: 1) then 200: exit 0"
check_eq "$(awk '{print $2}' "$LOG" | tr '\n' ' ')" "429 429 200 " "server saw 429, 429, 200"
check_le 2000 "$ms" "Retry-After honoured: took >= 2 s ($ms ms)"
check_match "$(cat "$ERR")" 'HTTP 429 .*retry 1/5 in 1\.[0-9]+ s \(Retry-After\)' "retry progress line"
check_same "$T/f429/races.csv" "$T/http2023/races.csv" "races.csv after 429s == without faults"

srv f500 --fail-500 3
ingest f500 --base-url "$URL" --seasons 2023 --what races,drivers --out "$T/f500" --rate 0 --backoff-ms 50
check_eq "$RC" 0 "500 three times then 200: exit 0"
check_eq "$(awk '{print $2}' "$LOG" | tr '\n' ' ')" "500 500 500 200 200 " "server saw 500 x3, then 200s"
check_same "$T/f500/drivers.csv" "$T/http2023/drivers.csv" "drivers.csv after 500s == without faults"

srv fdead --fail-500 1000
ingest fdead --base-url "$URL" --seasons 2023 --what races --out "$T/fdead" --rate 0 \
	--backoff-ms 10 --max-retries 3
check_eq "$RC" 75 "500 forever: exit 75 (transient) after the retries"
check_eq "$(requests "$LOG")" 4 "1 request + 3 retries"
check_match "$(cat "$ERR")" 'still failing after 3 retries: HTTP 500' "error says why"
check "no races.csv written when the fetch failed" test ! -e "$T/fdead/races.csv"

srv f429long --fail-429 5 --retry-after 7200
ingest f429long --base-url "$URL" --seasons 2023 --what races --out "$T/f429long" --rate 0
check_eq "$RC" 75 "429 with Retry-After beyond --max-retry-after: exit 75 at once"
check_eq "$(requests "$LOG")" 1 "... after 1 request"

srv ftrunc --truncate-path /2023/5/results
ingest ftrunc --base-url "$URL" --seasons 2023 --what results --out "$T/ftrunc" --rate 0
check_eq "$RC" 65 "truncated JSON body: exit 65 (bad data)"
check_match "$(tail -1 "$ERR")" 'error: GET http://127\.0\.0\.1:[0-9]+/ergast/f1/2023/5/results\.json\?limit=100&offset=0 \(body kept in .*json/results/2023@5@results\.json\.bad\): line 1, column [0-9]+: ' \
	"the error names the page (URL, file) and line/column"
check "the truncated body is kept for a look" test -s "$T/ftrunc/json/results/2023@5@results.json.bad"
check_eq "$(requests "$LOG" '/2023/5/results')" 1 "bad data is not retried"
# the same from a file: --parse-fixture on a truncated page
head -c 1500 "$FIX/laps/2023@1@laps.json" >"$T/trunc.json"
ingest ptrunc --parse-fixture "$T/trunc.json"
check_eq "$RC" 65 "--parse-fixture of a truncated page: exit 65"
check_match "$(cat "$ERR")" "error: $T/trunc.json: line 1, column 1500: " "... naming the file, line and column"
printf '{"MRData":{"limit":"30","offset":"0","total":"1","RaceTable":{"Races":[{"season":"2023","round":"1","Circuit":{"circuitId":"x"},"Results":[{"position":"1"}]}]}}}' >"$T/bad.json"
ingest pbad --parse-fixture "$T/bad.json"
check_eq "$RC" 65 "a result without positionText: exit 65"
check_match "$(cat "$ERR")" 'Races\[0\]\.Results\[0\]: missing "positionText"' "... naming the JSON path"

srv fdrop --drop-path /2023/3/results
ingest fdrop --base-url "$URL" --seasons 2023 --what results --out "$T/fdrop" --rate 0 \
	--backoff-ms 10 --max-retries 2
check_eq "$RC" 75 "connection cut mid-body every time: exit 75 (network error, transient)"
check_eq "$(requests "$LOG" '/2023/3/results')" 3 "... retried twice"

srv fslow --slow-ms 300
ingest fslow --base-url "$URL" --seasons 2023 --what drivers --out "$T/fslow" --rate 0
check_eq "$RC" 0 "slow answers (300 ms): exit 0"
srv fslower --slow-ms 2500
ingest fslower --base-url "$URL" --seasons 2023 --what drivers --out "$T/fslower" --rate 0 \
	--timeout 1 --max-retries 1 --backoff-ms 10
check_eq "$RC" 75 "answers slower than --timeout: exit 75"
check_match "$(cat "$ERR")" '[Tt]imeout|timed out' "... says it timed out"

# ---------------------------------------------------------------- rate limiting
srv rate
t0=$(date +%s%N)
ingest rate --base-url "$URL" --seasons 2021-2023 --what races,drivers,circuits --out "$T/rate" --rate 10/s
ms=$((($(date +%s%N) - t0) / 1000000))
n=$(requests "$LOG")
check_eq "$n" 9 "3 seasons x (races, drivers, circuits) = 9 requests"
span=$(awk 'NR==1{a=$1} {b=$1} END{print b-a}' "$LOG")
check_le 750 "$span" "--rate 10/s: 9 requests span >= 0.75 s at the server ($span ms)"
check_le 800 "$ms" "--rate 10/s: run took >= 0.8 s ($ms ms)"
srv rate2
ingest rate2 --base-url "$URL" --seasons 2023 --what races,drivers,circuits --out "$T/rate2" \
	--rate 0 --hourly 2 --hourly-window 2
span=$(awk 'NR==1{a=$1} {b=$1} END{print b-a}' "$LOG")
check_eq "$RC" 0 "--hourly 2 (window 2 s): exit 0"
check_le 1900 "$span" "--hourly 2 per 2 s: the 3rd request waits for the window ($span ms)"
check_match "$(cat "$ERR")" 'budget of 2 requests per 2 s used' "... and says so"
# two ingest processes against one host share one budget (the limiter's state file)
srv rate3
t0=$(date +%s%N)
"$INGEST" --base-url "$URL" --seasons 2021-2022 --what races,drivers,circuits --out "$T/rate3a" \
	--rate 10/s -q 2>"$T/rate3a.err" &
p1=$!
"$INGEST" --base-url "$URL" --seasons 2022-2023 --what races,drivers,circuits --out "$T/rate3b" \
	--rate 10/s -q 2>"$T/rate3b.err" &
p2=$!
rc1=0 rc2=0
wait $p1 || rc1=$?
wait $p2 || rc2=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "$rc1 $rc2 $(requests "$LOG")" "0 0 12" "two concurrent ingests: both exit 0, 12 requests"
span=$(awk 'NR==1{a=$1} {b=$1} END{print b-a}' "$LOG")
check_le 1000 "$span" "two processes at --rate 10/s share it: 12 requests span >= 1.0 s ($span ms)"
check "the shared state file is in \$TMPDIR" test -s "$T/f1-ingest-$(id -u)-127.0.0.1_$(cat "$T/rate3.port").rate"
check_same "$T/rate3a/json/races/2022@races.json" "$T/rate3b/json/races/2022@races.json" "... and wrote the same 2022 pages"

# ---------------------------------------------------------------- configuration
ingest cfg1 --source ftp://example.org/f1 --seasons 2023
check_eq "$RC" 78 "--source ftp://...: exit 78"
RC=0
F1_SOURCE=csv:$T/nonexistent timeout 20 "$INGEST" --out "$T/cfg2" >/dev/null 2>"$T/cfg2.err" || RC=$?
check_eq "$RC" 78 "F1_SOURCE=csv:MISSING: exit 78"
check_match "$(cat "$T/cfg2.err")" 'F1_SOURCE' "... naming F1_SOURCE"
ingest cfg3 --base-url "${URL%/ergast/f1}/nothing/here" --seasons 2023 --what races --out "$T/cfg3" --rate 0
check_eq "$RC" 78 "a base URL that answers 404: exit 78"
ingest cfg4 --seasons 20x3 --from-csv "$DATA"
check_eq "$RC" 64 "--seasons 20x3: exit 64"
ingest cfg5 --what tyres --from-csv "$DATA"
check_eq "$RC" 64 "--what tyres: exit 64"
mkdir -p "$T/dump"
cp "$DATA"/*.csv "$T/dump/"
rm "$T/dump/results.csv"
ingest cfg6 --from-csv "$T/dump" --seasons 2023 --what results --out "$T/cfg6"
check_eq "$RC" 66 "dump without results.csv: exit 66"
RC=0
(cd "$T" && F1_SOURCE=csv:$DATA F1_SEASONS=2022 PITWALL_WORKSPACE=$T/ws \
	timeout 60 "$INGEST" --what laps -q) || RC=$?
check_eq "$RC" 0 "F1_SOURCE=csv:, F1_SEASONS, PITWALL_WORKSPACE from the environment"
check_eq "$(awk -F, 'NR>1{print $1}' "$T/ws/raw/lap_times.csv" | sort -u)" 2022 \
	"... wrote \$PITWALL_WORKSPACE/raw/lap_times.csv for 2022 only"

pw_done
