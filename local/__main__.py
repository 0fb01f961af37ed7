"""``python -m local``: serve the local stack on http://$HOST:$PORT (127.0.0.1:3000)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from local.stack import StackError, start


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        port = int(os.environ.get("PORT", "3000"))
    except ValueError:
        print(f"PORT must be a number, not {os.environ['PORT']!r}", file=sys.stderr)
        return 2
    try:
        stack = start(port=port, host=host, access_log=True)
    except StackError as exc:
        print(f"Local stack: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Local stack: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Local stack: {stack.url} (DynamoDB: {stack.dynamodb_endpoint})", flush=True)
    try:
        stopping.wait()
    finally:
        stack.stop()
        print("Local stack: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
