"""tools/ensure-chromium.sh (run by `make test` and .ci/run): installs Debian chromium when
it is missing, through sudo when not root, and says what to run where it cannot. Run with a
PATH of stand-ins: a fake apt-get and sudo record their arguments; nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "ensure-chromium.sh"
BASH = shutil.which("bash") or "/bin/bash"


def _bin(tmp_path: Path, uid: int, tools: dict[str, str]) -> Path:
    """A folder to be the whole PATH: id answering ``uid``, env, and ``tools`` scripts."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "calls.log"
    scripts = {"id": f"echo {uid}\n", **tools}
    for name, body in scripts.items():
        (folder / name).write_text(f"#!{BASH}\n{body}".replace("$LOG", str(log)))
        (folder / name).chmod(0o755)
    real_env = shutil.which("env")
    assert real_env
    (folder / "env").symlink_to(real_env)
    return folder


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed command, no shell
        [BASH, str(SCRIPT)], env={"PATH": str(folder)}, capture_output=True, text=True, timeout=30
    )


FAKE_APT = 'echo "apt-get $*" >> $LOG\n'
FAKE_SUDO = 'echo "sudo $*" >> $LOG\nexec "$@"\n'


def test_present_chromium_is_left_alone(tmp_path: Path) -> None:
    folder = _bin(tmp_path, 0, {"chromium": "exit 0\n", "apt-get": FAKE_APT})
    assert _run(folder).returncode == 0
    assert not (tmp_path / "calls.log").exists()


def test_missing_chromium_is_installed_as_root(tmp_path: Path) -> None:
    result = _run(_bin(tmp_path, 0, {"apt-get": FAKE_APT}))
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == ["apt-get update -qq", "apt-get install -y -qq chromium"]


def test_missing_chromium_is_installed_through_sudo_when_not_root(tmp_path: Path) -> None:
    result = _run(_bin(tmp_path, 1000, {"apt-get": FAKE_APT, "sudo": FAKE_SUDO}))
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == [
        "sudo apt-get update -qq",
        "apt-get update -qq",
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
        "apt-get install -y -qq chromium",
    ]


def test_without_root_or_sudo_it_fails_saying_what_to_run(tmp_path: Path) -> None:
    result = _run(_bin(tmp_path, 1000, {"apt-get": FAKE_APT}))
    assert result.returncode != 0
    assert "no sudo" in result.stderr and "sudo apt-get install chromium" in result.stderr
    assert not (tmp_path / "calls.log").exists()


def test_make_test_and_ci_use_the_script() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test_rule = makefile.split("\ntest: $(STAMP)\n", 1)[1].split("\n\n", 1)[0]
    assert test_rule.lstrip().startswith("tools/ensure-chromium.sh"), test_rule
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text()
    assert os.access(SCRIPT, os.X_OK)
