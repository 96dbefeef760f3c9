#!/usr/bin/env python3
"""Builds a raw/ directory from an Ergast CSV dump, following the ingest
contract of docs/f1-pipeline.md, independently of f1-ingest.

The tests use it to make small slices (one season, a few rounds) and to
cross-check f1-ingest --from-csv. Usage:

    make_raw.py DUMP_DIR OUT_DIR [--seasons 2023 | 2021-2023] [--rounds 1-3]
"""
import argparse
import csv
import glob
import os

NULL = "\\N"


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def field(v):
    if v is None:
        return NULL
    if v == NULL:
        return v  # the dump's unquoted \N (csv module cannot tell quoted ones apart)
    if any(c in v for c in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


def write(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(field(h) for h in header) + "\n")
        for r in rows:
            r = [x.strip() if x is not None else None for x in r]
            r += [NULL] * (len(header) - len(r))
            f.write(",".join(field(x) for x in r) + "\n")


def rng(s):
    if s is None:
        return None
    a, _, b = s.partition("-")
    return (int(a), int(b or a))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("out")
    ap.add_argument("--seasons")
    ap.add_argument("--rounds")
    a = ap.parse_args()
    seasons, rounds = rng(a.seasons), rng(a.rounds)

    def keep(year, rnd):
        y, r = int(year), int(rnd)
        if seasons and not seasons[0] <= y <= seasons[1]:
            return False
        if rounds and not rounds[0] <= r <= rounds[1]:
            return False
        return True

    os.makedirs(a.out, exist_ok=True)
    d = a.dump
    ch, circuits = read(os.path.join(d, "circuits.csv"))
    circ_ref = {r[0]: r[1] for r in circuits}
    dh, drivers = read(os.path.join(d, "drivers.csv"))
    drv_ref = {r[0]: r[1] for r in drivers}
    _, cons = read(os.path.join(d, "constructors.csv"))
    cons_ref = {r[0]: r[1] for r in cons}
    _, status = read(os.path.join(d, "status.csv"))
    status_txt = {r[0]: r[1] for r in status}

    rh, races = read(os.path.join(d, "races.csv"))
    races = [r + [NULL] * (len(rh) - len(r)) for r in races]
    races = [r for r in races if keep(r[1], r[2])]
    race_of = {r[0]: (r[1], r[2]) for r in races}
    write(os.path.join(a.out, "races.csv"), rh + ["circuitRef"],
          [r + [circ_ref[r[3]]] for r in races])

    sh, res = read(os.path.join(d, "results.csv"))
    out = []
    for r in res:
        if r[1] not in race_of:
            continue
        y, rd = race_of[r[1]]
        out.append(r + [y, rd, drv_ref[r[2]], cons_ref[r[3]], status_txt[r[17]]])
    write(os.path.join(a.out, "results.csv"),
          sh + ["year", "round", "driverRef", "constructorRef", "status"], out)

    ph, pits = read(os.path.join(d, "pit_stops.csv"))
    out = []
    for r in pits:
        if r[0] not in race_of:
            continue
        y, rd = race_of[r[0]]
        out.append(r + [y, rd, drv_ref[r[1]]])
    write(os.path.join(a.out, "pit_stops.csv"), ph + ["year", "round", "driverRef"], out)

    write(os.path.join(a.out, "drivers.csv"), dh, drivers)
    write(os.path.join(a.out, "circuits.csv"), ch, circuits)

    out = []
    for path in sorted(glob.glob(os.path.join(d, "lap_times*.csv"))):
        _, laps = read(path)
        for r in laps:
            if not keep(r[0], r[1]):
                continue
            out.append([r[0], r[1], r[2], r[3], "name", NULL, r[4], r[5]])
    write(os.path.join(a.out, "lap_times.csv"),
          ["year", "round", "lap", "driver_id", "id_kind", "position", "lap_time",
           "gap_to_leader"], out)


if __name__ == "__main__":
    main()
