"""Squall beside the systems users would pick instead: one command, one run, one machine.

    make anchors                         Kafka started and stopped around it; peers installed
    python -m bench anchors              runs flume, peers and storm, then renders
    python -m bench anchors --render     only renders what bench/results/ holds

Runs, one after another and on the same input each: ``bench flume`` (the collector
against Apache Flume 1.11, null and Kafka sinks), ``bench peers`` (the compute tier
against bytewax, faust and plain consumer loops, answers checked against ground truth)
and ``bench storm`` (the runtime's spout -> bolt -> bolt chain against Apache Storm's
LocalCluster). Each writes its JSON (machine, versions, figures) to bench/results/.
Then the figures are rendered: a table between the ``anchors`` markers of README.md and
a plot, docs/anchors.png. Rendering reads the JSON only, so a table always shows what
one recorded run measured, with its load average.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
PLOT = ROOT / "docs" / "anchors.png"
BEGIN, END = "<!-- anchors:begin -->", "<!-- anchors:end -->"
RUNS = ("flume", "peers", "storm")


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _load_note(values: list[float]) -> str:
    return f"{min(values):.0f}-{max(values):.0f}" if values else "?"


def collector_rows(flume: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(case, Flume events/s, Squall's best events/s, ratio) per channel, sink and batch."""
    rows = []
    runs = flume["runs"]
    for case in flume["ratios"]:
        key = (case["channel"], case["sink"], case["batch"])
        mine = [r for r in runs if (r["channel"], r["sink"], r["batch"]) == key]
        theirs = [r["events_per_s"] for r in mine if r["system"] == "flume"]
        ours = [r for r in mine if r["system"].startswith("squall")]
        if not theirs or not ours:
            continue
        best = max(ours, key=lambda r: r["events_per_s"])
        label = f"{case['channel']} channel, {case['sink']} sink, batch {case['batch']:,}"
        workers = best["system"].removeprefix("squall-w")
        label += f" ({workers} worker{'' if workers == '1' else 's'})"
        rows.append((label, theirs[0], best["events_per_s"], best["events_per_s"] / theirs[0]))
    return rows


def compute_rows(peers: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    """(engine, correct?, events/s, events per CPU-second) per engine of bench peers."""
    return [
        (
            r["engine"],
            "yes" if r["correct"] else "WRONG",
            r.get("events_per_s") or 0.0,
            r.get("events_per_cpu_s") or 0.0,
        )
        for r in peers["results"]
    ]


def table(flume: dict[str, Any] | None, peers: dict[str, Any] | None,
          storm: dict[str, Any] | None) -> str:  # fmt: skip
    """The README's markdown: one table per comparison, each with its machine and load."""
    out: list[str] = []
    if flume:
        loads = [r["load_avg_1m"] for r in flume["runs"]]
        out += [
            f"**Collector vs Flume {flume['versions'].get('flume', '')}** (events/s in 200 "
            f"answers; {flume['machine']}; load average {_load_note(loads)}):",
            "",
            "| case | Flume | Squall | Squall / Flume |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {case} | {f:,.0f} | {s:,.0f} | {ratio:.2f}x |"
            for case, f, s, ratio in collector_rows(flume)
        ]
        out.append("")
    if peers:
        loads = [x for r in peers["results"] for x in r.get("load_average", [])]
        squall = next((r for r in peers["results"] if r["engine"] == "squall"), None)
        base = (squall or {}).get("events_per_cpu_s") or 0.0
        out += [
            f"**Compute tier vs Python stream processors** ({peers['records']:,} records, "
            f"per-minute count, bytes and p95 by service, route and status; "
            f"{peers['machine']}; load average {_load_note(loads)}):",
            "",
            "| engine | answer right | events/s | events per CPU-second | vs Squall |",
            "|---|---|---|---|---|",
        ]
        for engine, correct, rate, per_cpu in compute_rows(peers):
            ratio = f"{per_cpu / base:.2f}x" if base and per_cpu else "-"
            out.append(f"| {engine} | {correct} | {rate:,.0f} | {per_cpu:,.0f} | {ratio} |")
        out += [f"| {name} | not run: {why} | | | |" for name, why in peers["skipped"].items()]
        out.append("")
    if storm:
        loads = [
            x for r in storm["results"] for k in ("storm", "squall") for x in r[k]["load_average"]
        ]
        out += [
            f"**Runtime vs Apache Storm {storm['versions'].get('storm', '')}** (spout -> bolt "
            f"-> bolt, one process each; {storm['machine']}; load average "
            f"{_load_note(loads)}):",
            "",
            "| acking | system | tuples/s | tuples per CPU-second |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {'on' if r['acking'] else 'off'} | {system} | {r[key]['rate']:,.0f} | "
            f"{r[key]['per_cpu_s']:,.0f} |"
            for r in storm["results"]
            for system, key in (("Storm", "storm"), ("Squall", "squall"))
        ]
        out.append("")
    if not out:
        return "No anchor results recorded yet: `make anchors`.\n"
    return "\n".join(out)


def plot(flume: dict[str, Any] | None, peers: dict[str, Any] | None,
         storm: dict[str, Any] | None, path: Path) -> None:  # fmt: skip
    """One panel per comparison: Squall's bars beside the anchor's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in (flume, peers, storm) if p]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    ax = iter(axes[0])
    if flume:
        a = next(ax)
        rows = collector_rows(flume)
        xs = range(len(rows))
        a.bar([x - 0.2 for x in xs], [r[1] for r in rows], 0.4, label="Flume")
        a.bar([x + 0.2 for x in xs], [r[2] for r in rows], 0.4, label="Squall")
        short = [
            re.sub(r" channel| sink|batch ", "", r[0].split(" (")[0]).replace(", ", "\n")
            for r in rows
        ]
        a.set_xticks(list(xs), short, fontsize=7)
        a.set_ylabel("events/s accepted")
        a.set_title("collector vs Flume")
        a.legend()
    if peers:
        a = next(ax)
        rows = compute_rows(peers)
        a.bar([r[0] for r in rows], [r[3] for r in rows],
              color=["C1" if r[0].startswith("squall") else "C0" for r in rows])  # fmt: skip
        a.set_ylabel("events per CPU-second")
        a.set_title("compute tier vs Python peers")
        a.tick_params(axis="x", labelrotation=30, labelsize=7)
    if storm:
        a = next(ax)
        bars = [
            (f"{system}\nacking {'on' if r['acking'] else 'off'}", r[key]["rate"], key)
            for r in storm["results"]
            for system, key in (("Storm", "storm"), ("Squall", "squall"))
        ]
        a.bar([b[0] for b in bars], [b[1] for b in bars],
              color=["C1" if b[2] == "squall" else "C0" for b in bars])  # fmt: skip
        a.set_ylabel("tuples/s")
        a.set_title("runtime vs Storm")
        a.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render() -> None:
    """README's anchors section and docs/anchors.png from bench/results/*.json."""
    results = {name: _load(name) for name in RUNS}
    text = table(results["flume"], results["peers"], results["storm"])
    readme = README.read_text()
    block = f"{BEGIN}\n{text}\n![Squall beside Flume, Python peers and Storm]" \
            f"(docs/anchors.png)\n{END}"  # fmt: skip
    if BEGIN in readme:
        readme = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, readme,
                        flags=re.S)  # fmt: skip
    else:
        readme = readme.replace("## Data\n", f"{block}\n\n## Data\n")
    README.write_text(readme)
    plot(results["flume"], results["peers"], results["storm"], PLOT)
    print(text)
    print(f"README.md's anchors section and {PLOT.relative_to(ROOT)} rendered")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true", help="only render bench/results/")
    parser.add_argument("--only", default=",".join(RUNS), help="which of flume,peers,storm")
    args = parser.parse_args(argv)
    if not args.render:
        for name in args.only.split(","):
            print(f"== bench {name}", flush=True)
            importlib.import_module(f"bench.{name}").main([])
    render()


if __name__ == "__main__":
    main()
