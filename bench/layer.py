"""The code as ``sam build`` ships it, for measuring imports as Lambda runs them.

``layers/smsconsent/Makefile`` installs the layer's requirements (less what the runtime
provides) and copies the domain package, ``functions/Makefile`` copies ``app.py``, and both
compile every module for the runtime's Python (``layers/lambda-bytecode.mk``):
Lambda's ``/opt`` and ``/var/task`` are read-only, so Python cannot cache bytecode there
itself, and code shipped without it is compiled at every cold start. ``build()`` makes the
same tree from this virtualenv's installed files (same versions as the tests use):
``opt/python`` with the layer's distributions and ``smsconsent``, ``task/<folder>/app.py``
per function, all compiled the same way (unchecked-hash) by the interpreter that will import
them, as the Makefiles compile for python3.13; ``compiled=False`` leaves the tree as a build
without python3.13 ships it. Run it with ``-B`` (no bytecode written), the tree first on
``sys.path``; the runtime's own packages (boto3, botocore, ...) come precompiled from the
virtualenv, as the Lambda runtime ships them.
"""

from __future__ import annotations

import compileall
import importlib.metadata as md
import py_compile
import re
import shutil
from pathlib import Path

from packaging.requirements import Requirement

from bench.common import ROOT

LAYER = ROOT / "layers" / "smsconsent"
# Markers evaluated as for the layer's target: python3.13 on arm64 Linux.
_TARGET = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "platform_machine": "aarch64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
# Never imported (see smsconsent/phone.py); the layer Makefile deletes them too.
_DROPPED = ("phonenumbers/geodata", "phonenumbers/carrierdata")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_provided() -> set[str]:
    """``RUNTIME_PROVIDED`` of the layer Makefile: what the Lambda runtime brings."""
    text = (LAYER / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^RUNTIME_PROVIDED\s*:=\s*(.+)$", text, re.MULTILINE)
    return {_norm(n) for n in match.group(1).split()} if match else set()


def distributions() -> list[str]:
    """The layer's distributions: ``requirements.txt`` and what it pulls in on python3.13,
    less what the runtime provides (as the Makefile resolves them)."""
    skip = runtime_provided()
    todo = [
        line.split("#", 1)[0].strip()
        for line in (LAYER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    ]
    found: set[str] = set()
    while todo:
        text = todo.pop()
        if not text:
            continue
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(_TARGET):
            continue
        name = _norm(requirement.name)
        if name in found or name in skip:
            continue
        found.add(name)
        todo.extend(md.distribution(name).requires or [])
    return sorted(found)


def _copy_sources(files: list[tuple[Path, Path]]) -> None:
    for source, target in files:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def build(dest: Path, folders: list[str], compiled: bool = True) -> tuple[Path, Path]:
    """Make ``dest/opt/python`` and ``dest/task/<folder>`` for each function folder; returns
    ``(opt_python, task)``."""
    opt, task = dest / "opt" / "python", dest / "task"
    files: list[tuple[Path, Path]] = []
    for name in distributions():
        dist = md.distribution(name)
        for entry in dist.files or []:
            parts = entry.parts
            if (
                entry.suffix == ".pyc"
                or "__pycache__" in parts
                or ".." in parts
                or parts[0].endswith(".dist-info")
                or any(str(entry).startswith(d) for d in _DROPPED)
            ):
                continue
            files.append((Path(str(dist.locate_file(entry))), opt / entry))
    _copy_sources(files)
    shutil.copytree(LAYER / "smsconsent", opt / "smsconsent", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in folders:
        shutil.copytree(
            ROOT / "functions" / folder, task / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    if compiled:
        for tree in (opt, task):
            ok = compileall.compile_dir(
                str(tree), quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
            )
            if not ok:
                raise RuntimeError(f"compileall failed under {tree}")
    return opt, task
