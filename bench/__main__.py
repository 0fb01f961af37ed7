"""``make bench``: every measurement, a table of figures and goals, ``bench/results.json``.

    .venv/bin/python -m bench [--rounds 9] [--only coldstart,memory,presend,retention,events,export] [--smoke]
        [--strict]

Cold import and memory run here (each sample is a fresh interpreter); the pre-send and
retention benchmarks run in child processes of their own (each sets process-wide
environment and starts moto), which write their figures to a temporary file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import coldstart, costs, memory
from bench.common import ROOT, progress, write_json

SECTIONS = ("coldstart", "memory", "presend", "retention", "events", "imports", "export", "costs")
RESULTS = ROOT / "bench" / "results.json"

# The goals (issue 7).
IMPORT_RATIO = 1.25  # each function's cold import, times the floor's
MEMORY_MB = 128  # peak memory of a function
PRESEND_US = 25  # pre-send handler CPU per recipient (µs)
RULES_RATIO = 1.10  # pre-send CPU with the sending rules on, times off (issue 17)
PEER_RATIO = 0.25  # pre-send handler CPU, times the naive peer's (issue 18)
FLOOR_RATIO = 3.0  # pre-send handler CPU, times the floor's: HMAC + decoding the item (issue 18)
ITEMS_PER_DUE = 1.05  # retention: items read per item due
# Consent events (issue 13): the writer's own time with the stream on, times off (publishing
# adds no code to it: the stream publishes; the margin is this machine's noise), and the
# delivery latency on the local stack.
WRITER_RATIO = 1.10
DELIVERY_P99_MS = 2000


def _child(module: str) -> dict[str, Any]:
    """Run ``python -m <module> --out <file>`` (its stdout, function logs, is dropped)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        subprocess.run(
            [sys.executable, "-m", module, "--out", str(out)],
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            check=True,
        )
        figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return figures


def measure(sections: tuple[str, ...], rounds: int, built_rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "machine": platform.machine(),
            "system": platform.system(),
            "cpus": os.cpu_count(),
        },
        "seconds": {},
    }
    for section in sections:
        started = time.perf_counter()
        try:
            _run(section, results, rounds, built_rounds)
        except Exception as exc:  # one broken section must not lose the others' figures
            progress(f"{section} failed: {type(exc).__name__}: {exc}")
            results.setdefault("errors", {})[section] = f"{type(exc).__name__}: {exc}"
        results["seconds"][section] = round(time.perf_counter() - started, 1)
    results["goals"] = goals(results)
    return results


def _run(section: str, results: dict[str, Any], rounds: int, built_rounds: int) -> None:
    if section == "coldstart":
        progress(f"cold import: {rounds} rounds of fresh interpreters, bytecode cached")
        results["coldstart"] = coldstart.measure(rounds)
        progress(f"cold import: {built_rounds} rounds as sam build ships the code (read-only, precompiled)")
        results["coldstart_built"] = coldstart.measure(built_rounds, built=True)
    elif section == "memory":
        progress("memory: one invocation per function (moto and an SMS stub in another process)")
        results["memory"] = memory.measure()
    elif section == "presend":
        results["presend"] = _child("bench.presend_e2e")
    elif section == "retention":
        results["retention"] = _child("bench.retention_scale")
    elif section == "events":
        results["events"] = _child("bench.events_out")
    elif section == "imports":
        results["imports"] = _child("bench.imports")
    elif section == "export":
        results["export"] = _child("bench.export_scale")
    elif section == "costs":
        results["costs"] = _child("bench.costs")


# ---- goals -------------------------------------------------------------------------------


def _goal(name: str, target: str, measured: str, met: bool) -> dict[str, Any]:
    return {"goal": name, "target": target, "measured": measured, "met": met}


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cold = results.get("coldstart")
    for key, label in (("coldstart", "bytecode cached"), ("coldstart_built", "as sam build ships it")):
        figures = results.get(key)
        if figures and figures["functions"]:
            name, worst = max(figures["functions"].items(), key=lambda kv: kv[1]["ratio"])
            found.append(
                _goal(
                    f"cold import, {label}",
                    f"<= {IMPORT_RATIO}x floor",
                    f"worst {name} {worst['ratio']:.2f}x ({worst['ms']:.0f}/{figures['floor']['ms']:.0f} ms;"
                    f" best of {figures['rounds']}: {worst['best_ratio']:.2f}x)",
                    worst["ratio"] <= IMPORT_RATIO,
                )
            )
    if cold and cold["functions"]:
        name, worst = max(cold["functions"].items(), key=lambda kv: kv[1]["rss_mb"])
        found.append(
            _goal(
                "peak memory after import",
                f"< {MEMORY_MB} MB",
                f"worst {name} {worst['rss_mb']:.0f} MB",
                worst["rss_mb"] < MEMORY_MB,
            )
        )
    mem = results.get("memory")
    if mem:
        name, worst = max(mem.items(), key=lambda kv: kv[1]["invoked_mb"])
        found.append(
            _goal(
                "peak memory after one invocation",
                f"< {MEMORY_MB} MB",
                f"worst {name} {worst['invoked_mb']:.0f} MB",
                worst["invoked_mb"] < MEMORY_MB,
            )
        )
    presend = results.get("presend")
    if presend:
        cpu = presend.get("cpu") or {}
        if "us_per_recipient" in cpu:
            found.append(
                _goal(
                    "pre-send handler CPU per recipient",
                    f"<= {PRESEND_US} µs",
                    f"{cpu['us_per_recipient']:.1f} µs (10,000 new numbers)",
                    cpu["us_per_recipient"] <= PRESEND_US,
                )
            )
        runs = [v for v in (cpu.get("versus"), cpu.get("versus_us")) if v]
        for against, key, limit, digits in (
            ("a naive peer", "ratio_to_peer", PEER_RATIO, 3),
            ("its floor", "ratio_to_floor", FLOOR_RATIO, 2),
        ):
            if runs:
                found.append(
                    _goal(
                        f"pre-send CPU vs {against}",
                        f"<= {limit}x",
                        ", ".join(f"{v['mix']} {v[key]:.{digits}f}x" for v in runs)
                        + f" (best of {runs[0]['rounds']})",
                        all(v[key] <= limit for v in runs),
                    )
                )
        rules = cpu.get("sending_rules") or {}
        if "cold_ratio_on_to_off" in rules:
            worst = max(rules["cold_ratio_on_to_off"], rules["warm_ratio_on_to_off"])
            found.append(
                _goal(
                    "pre-send CPU, sending rules on",
                    f"<= {RULES_RATIO}x rules off",
                    f"{rules['cold_ratio_on_to_off']:.2f}x new numbers, {rules['warm_ratio_on_to_off']:.2f}x"
                    f" seen before (best of {rules['rounds']} each)",
                    worst <= RULES_RATIO,
                )
            )
        counts = []
        if "batch_get_requests" in cpu:
            counts.append(("stub", cpu["recipients"], cpu["batch_get_requests"]))
        for run in (presend.get("end_to_end") or {}).get("runs", {}).values():
            counts.append(("local", run["recipients"], run["requests"]))
        if counts:
            found.append(
                _goal(
                    "pre-send DynamoDB requests",
                    "<= ceil(n/100)",
                    ", ".join(f"{n:,} {where}: {r}" for where, n, r in counts),
                    all(r <= math.ceil(n / 100) for _, n, r in counts),
                )
            )
    retention = results.get("retention")
    if retention and retention["runs"]:
        runs = retention["runs"].values()
        found.append(
            _goal(
                "expiry items read per item due",
                f"<= {ITEMS_PER_DUE}x",
                ", ".join(f"{r['subjects']:,} subjects: {r['items_read_per_due']:.2f}x" for r in runs),
                all(r["items_read_per_due"] <= ITEMS_PER_DUE for r in runs),
            )
        )
    found += _event_goals(results.get("events") or {})
    export = results.get("export")
    if export and export.get("runs"):
        runs = export["runs"].values()
        found.append(
            _goal(
                "export pages completely, never a Scan (issue 15)",
                "every record once, 0 Scan",
                ", ".join(
                    f"{r['items']:,} items in {r['pages']} pages, {r['operations'].get('Scan', 0)} Scan"
                    for r in runs
                ),
                all(r["complete"] and not r["operations"].get("Scan") for r in runs),
            )
        )
    found += _import_goals(results.get("imports") or {})
    found += costs.goals(results.get("costs") or {})
    return found


def _import_goals(imports: dict[str, Any]) -> list[dict[str, Any]]:
    worker = imports.get("worker")
    if not worker:
        return []
    # Each chunk also records itself done in one transaction: that is not a subject's write.
    per_chunk = worker["chunks"] / worker["rows"]
    new, same = worker["new"], worker["unchanged"]
    subject_writes = new["write_requests_per_row"] - per_chunk
    return [
        _goal(
            "import: write requests per changed subject",
            "<= 1",
            f"{subject_writes:.3f} (new rows),"
            f" {same['write_requests_per_row'] - per_chunk:.3f} (unchanged rows)",
            subject_writes <= 1.0 and same["write_requests_per_row"] - per_chunk <= 0.0,
        )
    ]


def _imports_table(imports: dict[str, Any]) -> list[str]:
    if not imports:
        return []
    out = ["", "Imports"]
    worker = imports.get("worker")
    if worker:
        new, same = worker["new"], worker["unchanged"]
        out += [
            f"  the worker: {worker['rows']:,} rows in {worker['chunks']} chunks,"
            " DynamoDB answered at the botocore layer:",
            f"    new rows {new['cpu_us_per_row']:.0f} µs CPU,"
            f" {new['requests_per_row']:.3f} requests per row;"
            f" the same file again {same['cpu_us_per_row']:.0f} µs, {same['requests_per_row']:.3f} requests",
        ]
    for rows, run in (imports.get("local") or {}).items():
        out.append(
            f"  the local stack: {int(rows):,} rows through the {run['through']}: {run['seconds']:.0f} s,"
            f" {run['rows_per_second']:,} rows/s"
        )
    projection = imports.get("projection")
    if projection:
        out.append(
            f"  1,000,000 rows in AWS (projected: {projection['per_row_ms']:.1f} ms a row, a write assumed"
            f" {projection['assumed_write_ms']:.0f} ms): {projection['minutes_at_concurrency_10']:.0f} min at"
            f" 10 workers, {projection['minutes_at_concurrency_100']:.0f} min at 100"
        )
    return out


def _export_table(export: dict[str, Any]) -> list[str]:
    if not export or not export.get("runs"):
        return []
    out = [
        "",
        f"Export of consents: {export['subjects']:,} subjects, pages of 1,000 through ConsentsFunction's"
        " handler (moto in-process)",
    ]
    rows = [
        [
            f"{' '.join(f'{k}={v}' for k, v in r['query'].items()) or 'every record'} ({r['format']})",
            f"{r['items']:,}",
            str(r["pages"]),
            f"{r['items_per_s']:,}",
            f"{r['outside_dynamodb_items_per_s']:,}",
            f"{r['queries_per_page']:.2f}",
            f"{r['batch_gets_per_page']:.2f}",
            str(r["operations"].get("Scan", 0)),
        ]
        for r in export["runs"].values()
    ]
    out += _rows(
        ["export", "items", "pages", "items/s", "own items/s", "Query/page", "BatchGet/page", "scans"],
        rows,
    )
    out.append(
        "  items/s: end to end, mostly moto's (it walks the table for every Query); own: the run less"
        " the time inside DynamoDB calls."
    )
    return out


def _event_goals(events: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    writer = events.get("writer")
    if writer:
        found.append(
            _goal(
                "publishing's cost in the writer (STOP)",
                f"time <= {WRITER_RATIO}x without a stream, same requests",
                f"{writer['ratio_on_to_off']:.2f}x, {writer['requests_per_stop_on']:.1f}"
                f" vs {writer['requests_per_stop_off']:.1f} requests",
                writer["ratio_on_to_off"] <= WRITER_RATIO
                and writer["requests_per_stop_on"] == writer["requests_per_stop_off"],
            )
        )
    latency = events.get("local_delivery")
    if latency:
        found.append(
            _goal(
                "webhook delivery latency, local stack",
                f"p99 <= {DELIVERY_P99_MS} ms",
                f"p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms",
                latency["p99_ms"] <= DELIVERY_P99_MS,
            )
        )
    return found


# ---- the table ---------------------------------------------------------------------------


def _rows(headers: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> list[str]:
    """Columns padded to width; numbers right-aligned, the ``left`` columns (text) left."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i in left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return ["  " + line(headers), *("  " + line(r) for r in rows)]


def _num(value: Any, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _events_table(events: dict[str, Any]) -> list[str]:
    if not events:
        return []
    out = ["", "Consent events"]
    writer = events.get("writer")
    if writer:
        on, off = writer["ms_outside_dynamodb_stream_on"], writer["ms_outside_dynamodb_stream_off"]
        out += [
            "  the writer: a STOP's own time (outside DynamoDB calls, moto in-process),"
            f" {writer['rounds']} rounds of {writer['stops_per_round']} alternating:",
            f"    stream on {on:.3f} ms, off {off:.3f} ms ({writer['ratio_on_to_off']:.2f}x);"
            f" requests per STOP {writer['requests_per_stop_on']:.1f}"
            f" / {writer['requests_per_stop_off']:.1f}",
        ]
    publisher = events.get("publisher")
    if publisher:
        out += [
            f"  the publisher: {publisher['events']:,} stream records in batches of {publisher['batch']},"
            " AWS answered at the botocore layer:",
            f"    {publisher['cpu_us_per_event']:.0f} µs CPU per event,"
            f" {publisher['events_per_second']:,} events/s",
        ]
    latency = events.get("local_delivery")
    if latency:
        out.append(
            f"  the local stack: change -> receiver (answering at once), {latency['deliveries']} deliveries:"
            f" p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms"
        )
    return out


def _rules_lines(rules: dict[str, Any]) -> list[str]:
    """The pre-send check's CPU with the sending rules on and off."""
    if not rules:
        return []
    on, off = rules["summary_rules_on"], rules["summary_rules_off"]
    return [
        f"  sending rules on / off, best of {rules['rounds']} alternating (answered at the API layer):",
        f"    {_num(rules['cold_us_rules_on'], 1)} / {_num(rules['cold_us_rules_off'], 1)} µs"
        f" new numbers ({rules['cold_ratio_on_to_off']:.2f}x),"
        f" {_num(rules['warm_us_rules_on'], 1)} / {_num(rules['warm_us_rules_off'], 1)} µs"
        f" seen before ({rules['warm_ratio_on_to_off']:.2f}x)",
        f"    allowed / denied: {on['allowed']:,} / {on['denied']:,} on,"
        f" {off['allowed']:,} / {off['denied']:,} off;"
        f" the holiday calendar, once per container: {_num(rules['holidays_load_ms'], 0)} ms",
    ]


def _versus_lines(runs: list[dict[str, Any]]) -> list[str]:
    """The check against the naive peer and the floor (``bench.presend_peer``), per mix."""
    if not runs:
        return []
    out = [
        f"  side by side, best of {runs[0]['rounds']} alternating, answered at the HTTP layer"
        " (botocore's work counted):"
    ]
    for v in runs:
        out.append(
            f"    {v['mix']}: handler {_num(v['handler_us_per_recipient'], 1)} µs,"
            f" naive peer {_num(v['peer_us_per_recipient'], 1)} µs ({v['ratio_to_peer']:.3f}x),"
            f" floor {_num(v['floor_us_per_recipient'], 1)} µs ({v['ratio_to_floor']:.2f}x)"
        )
    out.append(
        "    eu: mostly German numbers, us: all from the US; peer: phonenumbers parse + validate"
        " per number, pynamodb batch_get of whole items; floor: HMAC + decoding the projected item"
    )
    return out


def table(results: dict[str, Any], written: bool = True) -> str:
    out: list[str] = []
    m = results["machine"]
    platform_ = f"{m['implementation']} {m['python']}, {m['system']} {m['machine']}, {m['cpus']} CPUs"
    out.append(f"sms-consent benchmarks: {platform_}, {results['when']}")
    cold, mem = results.get("coldstart") or {}, results.get("memory") or {}
    built = results.get("coldstart_built") or {}
    if cold or built:
        out += ["", "Cold import: fresh interpreters with each function's Lambda environment, median"]
        for figures, label in ((cold, "cached"), (built, "built")):
            if figures:
                floor, n = figures["floor"], figures["rounds"]
                floor_n = len(floor["samples_ms"])
                out.append(
                    f"  floor ({label}): import botocore.session + a DynamoDB client {floor['ms']:.1f} ms,"
                    f" {floor['rss_mb']:.0f} MB; {n} samples per function, {floor_n} of the floor"
                )
        rows = []
        for name in cold.get("functions") or built.get("functions") or {}:
            c = cold.get("functions", {}).get(name, {})
            b = built.get("functions", {}).get(name, {})
            rows.append(
                [
                    name,
                    _num(c.get("ms"), 1),
                    _num(c.get("ratio"), 2),
                    _num(b.get("ms"), 1),
                    _num(b.get("ratio"), 2),
                    _num(c.get("rss_mb") or b.get("rss_mb"), 1),
                ]
            )
        out += _rows(["function", "cached ms", "x floor", "built ms", "x floor", "MB after import"], rows)
        out += [
            "  cached: the repository's code, bytecode cached by earlier runs. built: as sam build ships it,",
            "  read-only as in Lambda, with the bytecode the Makefiles compile (layers/lambda-bytecode.mk).",
        ]
    if mem:
        out += [
            "",
            "First invocation: one event per function against moto's server and an SMS stub in another",
            "process (their memory is not counted; the time is mostly moto's)",
        ]
        rows = [
            [
                name,
                f"{r['event']} -> {r['outcome']}",
                _num(r["invoked_mb"], 1),
                _num(r["first_invoke_ms"]),
                f"{r['clients_created']} ({r['client_ms']:,.0f} ms)",
            ]
            for name, r in mem.items()
            if r.get("event")
        ]
        out += _rows(
            ["function", "event -> outcome", "peak MB", "call ms", "clients made (ms)"], rows, (0, 1)
        )
        warm = [(name, r) for name, r in mem.items() if r.get("second")]
        if warm:
            out.append("  then a second invocation in the same process (a warm container), another event:")
            rows = [
                [
                    name,
                    f"{r['second_event']} -> {r['second']['outcome']}",
                    _num(r["second"]["ms"]),
                    f"{r['second']['clients_created']} ({r['second']['client_ms']:,.0f} ms)",
                ]
                for name, r in warm
            ]
            out += _rows(["function", "event -> outcome", "call ms", "clients made (ms)"], rows, (0, 1))
        missing = [name for name, r in mem.items() if not r.get("event")]
        if missing:
            out.append(f"  no event in events/ for {', '.join(missing)}: measured after import only")
    presend = results.get("presend")
    if presend:
        out += ["", "Pre-send check"]
        cpu = presend.get("cpu") or {}
        if "error" in cpu:
            out.append(f"  handler CPU: FAILED ({cpu['error']}); see the trace above")
        elif cpu:
            n = cpu.get("recipients", 0)
            out += [
                f"  handler CPU per recipient, {n:,} numbers, DynamoDB answered at the API layer:",
                f"    {_num(cpu.get('cold_us_per_recipient'), 1)} µs numbers new to the container,"
                f" {_num(cpu.get('warm_us_per_recipient'), 1)} µs numbers seen before",
                "  the same with the requests' and answers' work (answered at the HTTP layer):",
                f"    {_num(cpu.get('with_botocore_cold_us_per_recipient'), 1)}"
                f" / {_num(cpu.get('with_botocore_warm_us_per_recipient'), 1)} µs;"
                f" BatchGetItem requests {_num(cpu.get('batch_get_requests'))}",
            ]
            out += _rules_lines(cpu.get("sending_rules") or {})
            out += _versus_lines([v for v in (cpu.get("versus"), cpu.get("versus_us")) if v])
        e2e = presend.get("end_to_end") or {}
        if e2e:
            out += [
                "  end to end: POST /v1/demo/check on the local stack, moto's DynamoDB server in-process",
                f"  ({e2e['subjects']:,} subjects with active consents; the wall times are mostly moto's)",
            ]
            rows = [
                [
                    f"{r['recipients']:,}",
                    _num(r["cold_ms"]),
                    _num(r["warm_ms"]),
                    f"{r['requests']} (ceil(n/100) = {r['expected_requests']})",
                    f"{r['summary'].get('allowed', 0):,} / {r['summary'].get('denied', 0):,}",
                ]
                for r in e2e["runs"].values()
            ]
            out += _rows(["recipients", "wall ms", "again ms", "DynamoDB requests", "allowed / denied"], rows)
    retention = results.get("retention")
    if retention:
        out += ["", "Retention job: the same due subjects in a bigger table (moto in-process)"]
        rows = [
            [
                f"{r['subjects']:,}",
                str(r["due"]),
                str(r["examined"]),
                str(r["items_read"]),
                f"{r['items_read_per_due']:.2f}",
                str(r["requests"]),
                str(r.get("operations", {}).get("Scan", 0)),
                _num(r["moto_run_s"], 1),
                _num(r["outside_dynamodb_s"], 2),
                _num(r["load_s"], 1),
            ]
            for r in retention["runs"].values()
        ]
        headers = ["subjects", "due", "examined", "items read", "per due", "requests", "scans"]
        out += _rows([*headers, "moto run s", "job's own s", "load s"], rows)
        out += [
            "  moto walks the whole table for every Query, so its run time grows with the table;",
            "  DynamoDB's does not. job's own s: the run less the time inside DynamoDB calls.",
        ]
    out += _events_table(results.get("events") or {})
    out += _imports_table(results.get("imports") or {})
    out += _export_table(results.get("export") or {})
    out += costs.table_lines(results.get("costs") or {})
    if results.get("goals"):
        out += ["", "Goals"]
        rows = [
            [g["goal"], g["target"], g["measured"], "PASS" if g["met"] else "MISS"] for g in results["goals"]
        ]
        out += _rows(["goal", "target", "measured", ""], rows, left=(0, 1, 2))
    for section, error in (results.get("errors") or {}).items():
        out += ["", f"{section}: FAILED ({error}); see the trace above"]
    took = f"took {sum(results['seconds'].values()):.0f} s"
    out += ["", f"{took}; figures in {RESULTS.relative_to(ROOT)}" if written else took]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="sms-consent benchmarks")
    parser.add_argument("--rounds", type=int, default=9, help="cold import samples per function (default 9)")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections, comma-separated: {','.join(SECTIONS)}"
    )
    parser.add_argument(
        "--built-rounds", type=int, default=5, help="the same for the code as sam build ships it (default 5)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every section but cold import once at small sizes, to see that each runs (make test);"
        " its figures mean nothing and bench/results.json is left as it is",
    )
    args = parser.parse_args(argv)
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.smoke:
        # Each section measures in a child process, which reads it as it imports bench.common
        os.environ["BENCH_SMOKE"] = "1"
        results = measure(tuple(s for s in sections if s != "coldstart"), 1, 1)
        results["goals"] = []  # computed (that code runs too), but not judged on such sizes
        print(table(results, written=False))
        print("smoke run: each section ran at small sizes; the figures above mean nothing")
        return 1 if results.get("errors") or results.get("presend", {}).get("cpu", {}).get("error") else 0
    results = measure(sections, args.rounds, args.built_rounds)
    write_json(RESULTS, results)
    print(table(results))
    if results.get("errors") or results.get("presend", {}).get("cpu", {}).get("error"):
        return 1  # a benchmark that did not run is a failure, goals or not
    return 1 if args.strict and not all(g["met"] for g in results["goals"]) else 0


if __name__ == "__main__":
    sys.exit(main())
