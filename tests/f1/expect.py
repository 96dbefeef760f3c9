#!/usr/bin/env python3
"""Independent expectations for the F1 task tests.

Each subcommand recomputes something from the raw CSVs (or re-derives a
documented definition, docs/f1-pipeline.md) in plain Python, without the C
code, and prints the value for the shell test to compare:

    expect.py CMD WORKSPACE [ARGS...]

WORKSPACE holds raw/ and the tasks' outputs (clean/, features/, splits/).
"""
import csv
import math
import os
import statistics
import sys
import unicodedata
from collections import Counter, defaultdict

NULL = "\\N"


def rows(ws, rel):
    with open(os.path.join(ws, rel), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def dur_ms(s):
    sec = 0.0
    for part in s.split(":"):
        sec = sec * 60 + float(part)
    return round(sec * 1000)


def fold(s):
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s.lower() if c.isascii() and c.isalnum())


def lap_range_violations(ws):
    return sum(not 30000 <= dur_ms(r["lap_time"]) <= 300000 for r in rows(ws, "raw/lap_times.csv"))


def dup_lap_keys(ws):
    c = Counter((r["year"], r["round"], r["lap"], r["driver_id"])
                for r in rows(ws, "raw/lap_times.csv"))
    return sum(v - 1 for v in c.values() if v > 1)


def results_over5(ws):
    c = Counter((r["year"], r["round"], r["driverRef"]) for r in rows(ws, "raw/pit_stops.csv"))
    return sum(c[(r["year"], r["round"], r["driverRef"])] > 5 for r in rows(ws, "raw/results.csv"))


def name_map(ws):
    """The driverRefs the lap-time names resolve to, matched by name."""
    by_name = defaultdict(set)
    for d in rows(ws, "raw/drivers.csv"):
        by_name[fold(d["forename"]) + fold(d["surname"])].add(d["driverRef"])
        by_name[fold(d["surname"]) + fold(d["forename"])].add(d["driverRef"])
    in_race = defaultdict(set)
    for r in rows(ws, "raw/results.csv"):
        in_race[(r["year"], r["round"])].add(r["driverRef"])
    out = set()
    for r in rows(ws, "raw/lap_times.csv"):
        cands = by_name[fold(r["driver_id"])]
        if len(cands) > 1:
            cands = cands & in_race[(r["year"], r["round"])]
        out.add(next(iter(cands)) if len(cands) == 1 else "UNMATCHED:" + r["driver_id"])
    return " ".join(sorted(out))


def clean_ids(ws):
    ids = {r["driver_id"] for r in rows(ws, "clean/laps.csv")}
    ids |= {r["driver_id"] for r in rows(ws, "clean/outliers.csv")}
    return " ".join(sorted(ids))


def laps_over(ws, ms):
    return sum(dur_ms(r["lap_time"]) > int(ms) for r in rows(ws, "raw/lap_times.csv"))


def laps_under(ws, ms):
    return sum(dur_ms(r["lap_time"]) < int(ms) for r in rows(ws, "raw/lap_times.csv"))


def outlier_check(ws):
    """Every above_mean_3sd lap is above its race's mean + 3 sd (over the laps
    within 30-500 s), and no kept lap that is not a pit lap is."""
    kept = rows(ws, "clean/laps.csv")
    out = rows(ws, "clean/outliers.csv")
    by_race = defaultdict(list)
    for r in kept + out:
        t = int(r["lap_time_ms"])
        if 30000 <= t <= 500000:
            by_race[(r["year"], r["round"])].append(t)
    limit = {k: statistics.mean(v) + 3 * statistics.stdev(v) for k, v in by_race.items()}
    for r in out:
        if r["reason"] == "above_mean_3sd" and not int(r["lap_time_ms"]) > limit[(r["year"], r["round"])]:
            return "outlier %s not above the limit" % r
    for r in kept:
        if r["pit_in"] == "0" and r["pit_out"] == "0" and int(r["lap_time_ms"]) > limit[(r["year"], r["round"])]:
            return "kept lap %s above the limit" % r
    return "ok"


def stop_laps(ws):
    s = defaultdict(set)
    for r in rows(ws, "raw/pit_stops.csv"):
        s[(r["year"], r["round"], r["driverRef"])].add(int(r["lap"]))
    return s


def tire_age_check(ws):
    """tire_age and stint of every feature row, from raw/pit_stops.csv."""
    stops = stop_laps(ws)
    feats = rows(ws, "features/lap_features.csv")
    good = 0
    for f in feats:
        lap = int(f["lap_number"])
        before = [s for s in stops[(f["year"], f["round"], f["driver_id"])] if s < lap]
        age = lap - max(before, default=0)
        pit = int(lap in stops[(f["year"], f["round"], f["driver_id"])])
        if int(f["tire_age"]) == age and int(f["stint"]) == len(before) + 1 and int(f["pit_stop"]) == pit:
            good += 1
    return "%d/%d" % (good, len(feats))


def tire_age_at(ws, year, rnd, driver, lap):
    before = [s for s in stop_laps(ws)[(year, rnd, driver)] if s < int(lap)]
    return int(lap) - max(before, default=0)


def feature_at(ws, year, rnd, driver, lap, col):
    for f in rows(ws, "features/lap_features.csv"):
        if (f["year"], f["round"], f["driver_id"], f["lap_number"]) == (year, rnd, driver, lap):
            return f[col]
    return "missing"


def winner_laps(ws):
    races = {r["raceId"] if r["raceId"] != NULL else (r["year"], r["round"]): (r["year"], r["round"], r["circuitRef"])
             for r in rows(ws, "raw/races.csv")}
    total = {}
    for r in rows(ws, "raw/results.csv"):
        if r["positionOrder"] == "1":
            total[(r["year"], r["round"])] = int(r["laps"])
    circuit = {(v[0], v[1]): v[2] for v in races.values()}
    circ_max = defaultdict(int)
    for k, v in total.items():
        circ_max[circuit[k]] = max(circ_max[circuit[k]], v)
    return total, circuit, circ_max


def fuel_laps_check(ws):
    """fuel_remaining and laps_remaining of every feature row."""
    total, circuit, circ_max = winner_laps(ws)
    feats = rows(ws, "features/lap_features.csv")
    good = 0
    for f in feats:
        k = (f["year"], f["round"])
        lap = int(f["lap_number"])
        fuel = max(0.0, 110 - lap * 110 / circ_max[circuit[k]])
        if abs(float(f["fuel_remaining"]) - fuel) < 0.0015 and int(f["laps_remaining"]) == max(0, total[k] - lap):
            good += 1
    return "%d/%d" % (good, len(feats))


def gap_agreement(ws):
    """Share of rows whose gap_to_leader agrees (0.01 s) with the source's
    numeric gap, over rows where the source's lap is unique and numeric."""
    src = defaultdict(list)
    for r in rows(ws, "raw/lap_times.csv"):
        src[(r["year"], r["round"], r["lap"], r["driver_id"])].append(r["gap_to_leader"])
    names = {}
    for d in rows(ws, "raw/drivers.csv"):
        names[d["driverRef"]] = (fold(d["forename"]) + "_" + fold(d["surname"]))
    n = ok = 0
    for f in rows(ws, "features/lap_features.csv"):
        if f["gap_to_leader"] == NULL:
            continue
        key = (f["year"], f["round"], f["lap_number"])
        g = None
        for sid in (names.get(f["driver_id"], ""), f["driver_id"]):
            v = src.get(key + (sid,))
            if v and len(v) == 1:
                g = v[0]
        if g is None:
            continue
        try:
            gv = float(g)
        except ValueError:
            continue
        n += 1
        ok += abs(gv - float(f["gap_to_leader"])) < 0.0105
    return "%.3f %d" % (ok / n if n else 0, n)


def split_check(ws, te, vs, ve, ts):
    feats = rows(ws, "features/lap_features.csv")
    parts = {s: rows(ws, "splits/%s.csv" % s) for s in ("train", "validation", "test")}
    rng = {"train": lambda d: d <= te, "validation": lambda d: vs <= d <= ve, "test": lambda d: d >= ts}
    for s, rs in parts.items():
        bad = [r["race_date"] for r in rs if not rng[s](r["race_date"])]
        if bad:
            return "%s has race_date %s outside its range" % (s, bad[0])
    key = lambda r: tuple(r.values())
    union = Counter(key(r) for rs in parts.values() for r in rs)
    if union != Counter(key(r) for r in feats if any(f(r["race_date"]) for f in rng.values())):
        return "train + validation + test != the features"
    races = [set((r["year"], r["round"]) for r in rs) for rs in parts.values()]
    if races[0] & races[1] or races[0] & races[2] or races[1] & races[2]:
        return "a race is in two splits"
    return "ok %d/%d/%d" % tuple(len(rs) for rs in parts.values())


def career(ws, driver):
    last = max(r["race_date"] for r in rows(ws, "features/lap_features.csv"))
    date = {(r["year"], r["round"]): r["date"] for r in rows(ws, "raw/races.csv")}
    return len({(r["year"], r["round"]) for r in rows(ws, "raw/results.csv")
                if r["driverRef"] == driver and date[(r["year"], r["round"])] <= last})


def _clean_laps(feats):
    by_race = defaultdict(list)
    for f in feats:
        by_race[(f["year"], f["round"])].append(f)
    first = lambda f: f["lap_number"] != "1" and f["pit_stop"] == "0" and not (f["tire_age"] == "1" and f["stint"] != "1")
    med = {k: statistics.median([int(f["lap_time_ms"]) for f in v if first(f)]) for k, v in by_race.items()}
    return by_race, med, lambda f: first(f) and int(f["lap_time_ms"]) <= 1.07 * med[(f["year"], f["round"])]


def consistency(ws, driver):
    feats = rows(ws, "features/lap_features.csv")
    by_race, med, clean = _clean_laps(feats)
    num = den = 0.0
    for k, v in by_race.items():
        r = [int(f["lap_time_ms"]) / med[k] * 100 for f in v if f["driver_id"] == driver and clean(f)]
        if len(r) >= 5:
            num += statistics.stdev(r) * len(r)
            den += len(r)
    return "%.4f" % (num / den)


def aggression(ws, driver):
    feats = rows(ws, "features/lap_features.csv")
    pos, pitish = {}, set()
    races = set()
    for f in feats:
        k = (f["year"], f["round"], f["driver_id"], int(f["lap_number"]))
        if f["position"] != NULL:
            pos[k] = int(f["position"])
        if f["pit_stop"] == "1" or (f["tire_age"] == "1" and f["stint"] != "1"):
            pitish.add(k)
        if f["driver_id"] == driver:
            races.add((f["year"], f["round"]))
    others = defaultdict(set)
    for (y, r, d, l) in pos:
        others[(y, r)].add(d)
    n = 0
    for (y, r, d, l), p1 in pos.items():
        if d != driver or l < 2:
            continue
        a0, a1 = (y, r, d, l - 1), (y, r, d, l)
        if a0 not in pos or a0 in pitish or a1 in pitish:
            continue
        for e in others[(y, r)]:
            b0, b1 = (y, r, e, l - 1), (y, r, e, l)
            if e == d or b0 not in pos or b1 not in pos or b0 in pitish or b1 in pitish:
                continue
            if pos[b0] < pos[a0] and pos[b1] > p1:
                n += 1
    return "%.3f" % (n / len(races))


def profile(ws, driver, col):
    for r in rows(ws, "profiles/driver_profiles.csv"):
        if r["driver_id"] == driver:
            return r[col]
    return "missing"


def main():
    cmd, ws, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    print(globals()[cmd](ws, *args))


if __name__ == "__main__":
    main()
