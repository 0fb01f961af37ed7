"""Cold import of every function against the floor every DynamoDB-backed Python Lambda pays.

Each sample is a fresh isolated interpreter with the function's Lambda environment and
Lambda's ``sys.path`` (the function folder as ``/var/task``, the layer as ``/opt/python``;
packages Lambda lacks are hidden, ``bench.common.NOT_ON_LAMBDA``). It times ``import app``
with ``time.perf_counter()``, then reads its peak RSS (``ru_maxrss``: the memory after
import alone, nothing invoked, no moto). The floor is ``import botocore.session`` plus
creating a DynamoDB client, timed the same way.

Two ways to find the code:
- ``built=False``: the repository's folders, bytecode cached as in any checkout (what the
  import *weight* of our code is; the budget test in tests/perf uses this);
- ``built=True``: the code as ``sam build`` ships it (``bench.layer``): precompiled as the
  Makefiles do (``layers/lambda-bytecode.mk``) and run with ``-B``, as from Lambda's
  read-only ``/opt`` and ``/var/task``, where nothing else could ever be cached. The floor
  is the same in both: the runtime's botocore is precompiled.

Floor and function samples alternate (floor, f1, floor, f2, ...; the function order turns
every round) so machine noise hits both alike; each target runs once unmeasured first
(bytecode caches written, files in the page cache). The figure per function is the
median of its samples and its ratio to the floor's median; ``best_ratio`` (best sample over
the floor's best) is the steadier figure when other work shares the machine.

    .venv/bin/python -m bench.coldstart [rounds] [--built]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import layer
from bench.common import (
    MARKER,
    REGION,
    function_path,
    functions,
    lambda_env,
    lambda_prelude,
    layer_paths,
    median,
    run_fresh,
)

FLOOR = "floor"
FLOOR_BODY = (
    "import botocore.session\n"
    f"botocore.session.get_session().create_client('dynamodb', region_name={REGION!r})"
)
_CODE = """\
{prelude}import time
started = time.perf_counter()
{body}
took = time.perf_counter() - started
import json, resource
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print({marker!r} + json.dumps({{"ms": took * 1000, "rss_kb": rss}}))
"""

Target = tuple[str, dict[str, str]]


def _targets(names: list[str] | None = None, built: Path | None = None) -> dict[str, Target]:
    """``{name: (code, env)}``: the floor and the chosen functions (all by default); with
    ``built``, the functions are found in that ``bench.layer.build`` tree."""
    found = functions()
    chosen = [found[n] for n in names] if names else list(found.values())
    first = chosen[0] if chosen else next(iter(found.values()))
    opt = [str(built / "opt" / "python")] if built else [str(p) for p in layer_paths()]
    targets = {
        FLOOR: (_CODE.format(prelude=lambda_prelude(opt), body=FLOOR_BODY, marker=MARKER), lambda_env(first))
    }
    for function in chosen:
        path = [str(built / "task" / function.folder), *opt] if built else function_path(function)
        code = _CODE.format(prelude=lambda_prelude(path), body="import app", marker=MARKER)
        targets[function.logical_id] = (code, lambda_env(function))
    return targets


def sample(code: str, env: dict[str, str], flags: tuple[str, ...] = ()) -> dict[str, float]:
    """One fresh interpreter: import milliseconds and peak RSS in KiB."""
    answer = run_fresh(code, env, flags=flags)
    return {"ms": float(answer["ms"]), "rss_kb": float(answer["rss_kb"])}


def measure(rounds: int = 9, names: list[str] | None = None, built: bool = False) -> dict[str, Any]:
    """Median cold import (ms) and import-only peak RSS (MB) of the floor and each function,
    with each function's ratio to the floor. ``names``: logical ids (default: all);
    ``built``: the code as ``sam build`` ships it, read-only and precompiled."""
    if not built:
        return _measure(_targets(names), rounds, ())
    folders = sorted({f.folder for f in functions().values()})
    with tempfile.TemporaryDirectory(prefix="sms-consent-bench-") as folder:
        tree = Path(folder)
        layer.build(tree, folders)
        result = _measure(_targets(names, tree), rounds, ("-B",))
    result["built"] = True
    return result


def _measure(targets: dict[str, Target], rounds: int, flags: tuple[str, ...]) -> dict[str, Any]:
    functions_ = [n for n in targets if n != FLOOR]
    samples: dict[str, list[dict[str, float]]] = {n: [] for n in targets}
    for code, env in targets.values():
        sample(code, env, flags)  # warm-up, not counted
    for r in range(rounds):
        shift = r % len(functions_) if functions_ else 0
        for name in functions_[shift:] + functions_[:shift]:
            for target in (FLOOR, name):
                code, env = targets[target]
                samples[target].append(sample(code, env, flags))
    floor_ms = median([s["ms"] for s in samples[FLOOR]])
    floor_best = min(s["ms"] for s in samples[FLOOR])
    result: dict[str, Any] = {"rounds": rounds, "floor": _summary(samples[FLOOR]), "functions": {}}
    for name in functions_:
        summary = _summary(samples[name])
        summary["ratio"] = round(summary["ms"] / floor_ms, 3)
        # Best of the samples over the floor's best: noise only ever adds time, so this is
        # the steadier figure on a busy machine (the goal is judged on the medians).
        summary["best_ratio"] = round(min(s["ms"] for s in samples[name]) / floor_best, 3)
        result["functions"][name] = summary
    return result


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "ms": round(median([s["ms"] for s in runs]), 1),
        "rss_mb": round(median([s["rss_kb"] for s in runs]) / 1024, 1),
        "samples_ms": [round(s["ms"], 1) for s in runs],
    }


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--built"]
    print(json.dumps(measure(int(args[0]) if args else 9, built="--built" in sys.argv), indent=2))
