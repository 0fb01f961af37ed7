"""A stand-in for AWS in a process of its own, for the memory benchmark: moto's DynamoDB
server with the template's table and the demo tenant, and an AWS End User Messaging SMS
stub answering ``SendTextMessage``. Being another process, neither adds to the measured
function's memory.

``python -m bench.backend`` (with ``PYTHONPATH`` = repository root and layer) prints
``READY <dynamodb url> <sms url>`` and serves until its stdin is closed. ``Backend`` runs
it from Python::

    with Backend() as backend:
        env = {..., "DYNAMODB_ENDPOINT": backend.dynamodb, ...}
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from bench.common import REGION, ROOT, TABLE_NAME, demo_doc, lambda_env, layer_paths


class _SmsStub(BaseHTTPRequestHandler):
    """``SendTextMessage`` always succeeds (the JSON protocol of pinpoint-sms-voice-v2)."""

    sent = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _SmsStub.sent += 1
        body = json.dumps({"MessageId": f"bench-{_SmsStub.sent}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    dynamodb = f"http://{host}:{port}"
    sms_server = ThreadingHTTPServer(("127.0.0.1", 0), _SmsStub)
    threading.Thread(target=sms_server.serve_forever, daemon=True).start()
    sms = f"http://127.0.0.1:{sms_server.server_address[1]}"

    import boto3

    from local import template as tpl

    definition, ttl = tpl.table_definition(tpl.load(), TABLE_NAME)
    client = boto3.client("dynamodb", endpoint_url=dynamodb, region_name=REGION)
    client.create_table(**definition)
    if ttl:
        client.update_time_to_live(
            TableName=TABLE_NAME, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    os.environ["DYNAMODB_ENDPOINT"] = dynamodb
    from smsconsent import clock, store

    store.bind()
    store.put_tenant_doc(demo_doc(), clock.now())
    print("READY", dynamodb, sms, flush=True)
    sys.stdin.read()  # until the parent closes it
    sms_server.shutdown()
    moto.stop()


class Backend:
    """Runs ``serve()`` in a child process; ``dynamodb`` and ``sms`` are its endpoints."""

    def __init__(self) -> None:
        self.dynamodb = ""
        self.sms = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Backend:
        env = lambda_env(SMS_SENDER="outbox", POWERTOOLS_LOG_LEVEL="WARNING")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *(str(p) for p in layer_paths())])
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.backend"],
            cwd=str(ROOT),
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().split()
        if len(line) != 3 or line[0] != "READY":
            self.__exit__(None, None, None)
            raise RuntimeError(f"bench backend did not start: {line}")
        self.dynamodb, self.sms = line[1], line[2]
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


if __name__ == "__main__":
    serve()
