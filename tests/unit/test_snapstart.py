"""SnapStart, simulated: a process initialises a function as Lambda does when it publishes a
version (imports the handler, runs the before-snapshot hooks), then forks twice; each child
is one restore of that one memory image, runs the after-restore hooks the way the runtime
does (``snapshot_restore_py``'s registries), and reports what it would use.

Restored copies must not share what was drawn or opened before the snapshot: tokens,
``random``'s sequence, the botocore session and its credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "smsconsent"

SCRIPT = textwrap.dedent(
    """
    import json, os, random, sys, traceback

    drawn = []  # os.urandom calls made by our code while initialising
    real_urandom = os.urandom

    def watched(n):
        frames = traceback.extract_stack()[:-1]
        if any("smsconsent" in f.filename or "/functions/" in f.filename for f in frames):
            drawn.append("".join(traceback.format_list(frames[-4:])))
        return real_urandom(n)

    os.urandom = watched
    import snapshot_restore_py as runtime
    sys.path.insert(0, sys.argv[1])
    import app  # the function's init phase, as when a version is published
    for hook, args, kwargs in runtime._before_snapshot_registry:
        hook(*args, **kwargs)
    os.urandom = real_urandom

    from smsconsent import aws, keys, snapstart, store
    from smsconsent.store import batch as _batch  # noqa: F401 - store.batch below

    aws.session().get_credentials()  # as any client made while initialising would
    store.batch.client()  # the pre-send reader's client, had a request been served
    before = id(aws.session())
    restore = sys.argv[2] == "restore"
    results = []
    image = random.getstate()  # what the snapshot holds
    for copy in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # one restored execution environment
            os.close(read)
            random.setstate(image)  # a restore is no fork: Python's reseed-at-fork never runs
            # Lambda hands each restored environment its own credentials.
            os.environ["AWS_ACCESS_KEY_ID"] = f"restored-{copy}"
            if restore:
                for hook, args, kwargs in runtime._after_restore_registry:
                    hook(*args, **kwargs)
            answer = {
                "token": keys.new_token(),
                "random": random.random(),
                "new_session": id(aws.session()) != before,
                "access_key": aws.session().get_credentials().access_key,
                "connection_reset": store.models._shared is None and store.batch._reader_made is None,
                "restores": snapstart.restores,
            }
            os.write(write, json.dumps(answer).encode())
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        with os.fdopen(read) as pipe:
            results.append(json.loads(pipe.read()))
    hooks = len(runtime._before_snapshot_registry), len(runtime._after_restore_registry)
    print(json.dumps({"copies": results, "drawn": drawn, "hooks": hooks}))
    """
)


def _simulate(function: str, mode: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(LAYER), str(ROOT)]),
        "TABLE_NAME": "snapstart-test",
        "AWS_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "at-init",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PEPPER_JSON": json.dumps({"current": "v1", "v1": "a-pepper-of-enough-length"}),
        "POWERTOOLS_METRICS_NAMESPACE": "SnapStartTest",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", SCRIPT, str(ROOT / "functions" / function), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("function", ["signup", "confirm", "inbound"])
def test_each_restore_gets_its_own_randomness_session_and_credentials(function: str) -> None:
    simulated = _simulate(function, "restore")
    first, second = simulated["copies"]
    assert simulated["hooks"] == [1, 1]  # registered once, though several modules import it
    assert first["restores"] == second["restores"] == 1  # the hook ran in each copy
    assert first["token"] != second["token"]
    assert first["random"] != second["random"]
    assert first["new_session"] and second["new_session"]
    assert (first["access_key"], second["access_key"]) == ("restored-0", "restored-1")
    assert first["connection_reset"] and second["connection_reset"]
    assert simulated["drawn"] == [], "randomness drawn by our code before the snapshot"


def test_without_the_hooks_the_copies_would_share_state() -> None:
    """The control: what the hooks prevent does happen without them, so the test above
    can tell."""
    simulated = _simulate("signup", "no-restore")
    first, second = simulated["copies"]
    assert first["restores"] == second["restores"] == 0
    assert first["random"] == second["random"]
    assert not first["new_session"]
    assert first["access_key"] == second["access_key"] == "at-init"
    assert first["token"] != second["token"]  # secrets asks the OS each time: never shared
