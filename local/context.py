"""Lambda's context object, as the handlers see it: the one fake for the local stack, the
tests and the benchmarks.

Standard library only, so a benchmark can load it into an interpreter set up as Lambda's
(``bench.memory``) without putting the repository on its path.

``invoked_function_arn`` is a plain field, so an invocation through an alias or version
(``arn(name, "tenant-demo")``) is one argument, or one ``dataclasses.replace``, away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

REGION = "eu-central-1"
ACCOUNT = "123456789012"


def arn(function_name: str, qualifier: str | None = None, region: str = REGION) -> str:
    """The function's ARN, qualified by an alias or version when ``qualifier`` is given."""
    unqualified = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"
    return f"{unqualified}:{qualifier}" if qualifier else unqualified


@dataclass
class LambdaContext:
    function_name: str = "local-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "local-request"
    # "" stands for the unqualified ARN of ``function_name``.
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    # "" stands for ``/aws/lambda/<function_name>``.
    log_group_name: str = ""
    log_stream_name: str = "local"
    # The time left counts down from ``timeout_seconds``, as in Lambda; a fixed
    # ``remaining_ms`` answers the same at every call (tests and benchmarks that must not
    # depend on the machine's speed).
    timeout_seconds: float = 10.0
    remaining_ms: int | None = None
    _deadline: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.invoked_function_arn = self.invoked_function_arn or arn(self.function_name)
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        if self.remaining_ms is not None:
            return self.remaining_ms
        return max(0, int((self._deadline - time.monotonic()) * 1000))
