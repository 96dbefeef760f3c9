#!/usr/bin/env python3
"""Turn bench/out/raw.tsv (written by bench/run.sh) into a table and bench/out/results.json."""
import argparse
import json
import os
import platform
import statistics
import subprocess

TOOLS = ["make", "ninja", "pitwall_argv", "pitwall_shell", "snakemake"]
HEAD = {"make": "make", "ninja": "ninja", "pitwall_argv": "pw argv", "pitwall_shell": "pw shell",
        "snakemake": "snakemake"}
RSS_LIMIT_KB = 256 * 1024
PLAN_LIMIT_S = 1.0


def version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except Exception:
        return None


def fmt(x, unit=""):
    return "-" if x is None else ("%.2f%s" % (x, unit))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timer", default="?")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pitwall", default="pitwall")
    ap.add_argument("--notes", default="")
    a = ap.parse_args()

    dags, big = {}, {}
    for line in open(a.raw):
        dag, tool, status, times, check, load, cpu = (line.rstrip("\n").split("\t") + ["-"])[:7]
        ts = [float(t) for t in times.split(",")] if times not in ("", "-") else []
        cs = [float(t) for t in cpu.split(",")] if cpu not in ("", "-") else []
        m = {"status": status, "times_s": ts, "best_s": min(ts) if ts else None,
             "mean_s": statistics.mean(ts) if ts else None,
             "stdev_s": statistics.stdev(ts) if len(ts) > 1 else None, "loadavg": load,
             "cpu_s": cs, "cpu_best_s": min(cs) if cs else None}
        if dag == "big_layered" and tool in ("validate", "plan"):
            rss = check.split("=", 1)[1] if "=" in check else "-"
            m["rss_kb"] = [int(x) for x in rss.split(",")] if rss not in ("", "-") else []
            m["max_rss_kb"] = max(m["rss_kb"]) if m["rss_kb"] else None
            big[tool] = m
        else:
            m["check"] = check
            dags.setdefault(dag, {})[tool] = m

    results = {"timer": a.timer, "reps": a.reps, "statistic": "best of reps (min wall time)",
               "machine": {"nproc": os.cpu_count(), "kernel": platform.release(),
                           "loadavg_at_report": open("/proc/loadavg").read().split()[:3]},
               "versions": {"pitwall": version([a.pitwall, "--version"]), "make": version(["make", "--version"]),
                            "ninja": version(["ninja", "--version"]),
                            "snakemake": version(["snakemake", "--version"]),
                            "hyperfine": version(["hyperfine", "--version"])},
               "dags": {}, "validate_plan_100k": None, "notes": [n for n in a.notes.split("\n") if n]}

    print("pitwall vs make / ninja / snakemake, -j2, wall seconds, best of %d (%s)" % (a.reps, a.timer))
    print()
    hdr = "%-16s %6s" % ("DAG", "tasks") + "".join("%10s" % HEAD[t] for t in TOOLS) + \
        "%10s%10s%11s  %s" % ("pw/ninja", "pw/make", "pwsh/ninja", "target pw<=1.0x ninja")
    print(hdr)
    print("-" * len(hdr))
    for dag, tools in dags.items():
        meta = json.load(open(os.path.join(a.out, dag, "meta.json")))
        n = meta["tasks"]
        row = "%-16s %6d" % (dag, n)
        for t in TOOLS:
            m = tools.get(t)
            if m is None:
                cell = "n/a"
            elif m["status"] != "ok":
                cell = "FAILED"
                results["notes"].append("%s / %s %s" % (dag, t, m["status"]))
            else:
                cell = fmt(m["best_s"])
                # a tool that did not run all N tasks is flagged with '!'
                if not str(m.get("check", "")).split(" ")[0] == str(n):
                    cell += "!"
            row += "%10s" % cell

        def best(t):
            m = tools.get(t)
            return m["best_s"] if m and m["status"] == "ok" else None

        def ratio(x, y):
            return None if best(x) is None or best(y) is None else best(x) / best(y)

        r = {"pitwall_argv/ninja": ratio("pitwall_argv", "ninja"),
             "pitwall_argv/make": ratio("pitwall_argv", "make"),
             "pitwall_shell/ninja": ratio("pitwall_shell", "ninja"),
             "pitwall_shell/make": ratio("pitwall_shell", "make")}
        verdict = "-" if r["pitwall_argv/ninja"] is None else (
            "PASS" if r["pitwall_argv/ninja"] <= 1.0 else "FAIL")
        row += "%10s%10s%11s  %s" % (fmt(r["pitwall_argv/ninja"], "x"), fmt(r["pitwall_argv/make"], "x"),
                                     fmt(r["pitwall_shell/ninja"], "x"), verdict)
        print(row)
        results["dags"][dag] = {"tasks": n, "edges": meta["edges"], "tools": tools, "ratios": r,
                                "target": "pitwall_argv <= 1.0x ninja", "verdict": verdict}

    print()
    print("CPU seconds (user+sys of the whole process tree, best of reps; %s), less sensitive to"
          % ("hyperfine gives only the mean" if a.timer == "hyperfine" else "per repetition"))
    print("other load than wall time; ms/task = CPU per task:")
    hdr2 = "%-16s %6s" % ("DAG", "tasks") + "".join("%10s" % HEAD[t] for t in TOOLS) + \
        "%10s%12s" % ("pw/ninja", "pw ms/task")
    print(hdr2)
    for dag, d in results["dags"].items():
        tools = d["tools"]
        cb = {t: tools[t]["cpu_best_s"] for t in TOOLS if t in tools and tools[t]["status"] == "ok"}
        row = "%-16s %6d" % (dag, d["tasks"]) + "".join("%10s" % fmt(cb.get(t)) for t in TOOLS)
        cr = cb["pitwall_argv"] / cb["ninja"] if cb.get("pitwall_argv") and cb.get("ninja") else None
        d["ratios"]["cpu pitwall_argv/ninja"] = cr
        row += "%10s%12s" % (fmt(cr, "x"), fmt(cb["pitwall_argv"] * 1000 / d["tasks"]) if cb.get("pitwall_argv") else "-")
        print(row)

    print()
    print("'!' = the tool did not run all N tasks (check column in results.json); n/a = not run.")
    print("How the commands are spawned: make execs a recipe without shell metacharacters directly")
    print("(`true` -> execve /usr/bin/true, no shell); ninja always runs `/bin/sh -c true` (dash runs the")
    print("builtin, so one process per task); pw argv = command: [\"/bin/true\"] (no shell, like make);")
    print("pw shell = shell: \"true\" (/bin/sh -c, like ninja). snakemake: touch()ed outputs, shell: \"true\".")

    if big:
        print()
        print("pitwall validate / plan, 100,000-task layered DAG (%s)" % os.path.join(a.out, "big_layered", "dag.yaml"))
        print("%-10s %10s %10s %12s  %s" % ("command", "best s", "mean s", "peak RSS MB", "target < 1 s and < 256 MB"))
        vp = {}
        for cmd in ("validate", "plan"):
            m = big.get(cmd)
            if not m:
                continue
            rss = m["max_rss_kb"]
            if m["status"] != "ok":
                verdict = m["status"].upper()
            else:
                verdict = "PASS" if m["best_s"] < PLAN_LIMIT_S and (rss is None or rss < RSS_LIMIT_KB) else "FAIL"
            m["verdict"] = verdict
            print("%-10s %10s %10s %12s  %s" % (cmd, fmt(m["best_s"]), fmt(m["mean_s"]),
                                                "-" if rss is None else "%.1f" % (rss / 1024), verdict))
            vp[cmd] = m
        results["validate_plan_100k"] = vp

    for n in results["notes"]:
        print("note: " + n)
    path = os.path.join(a.out, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print("\nresults: %s" % path)


if __name__ == "__main__":
    main()
