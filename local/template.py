"""Read template.yaml: the HTTP API routes, the functions behind them and the table.

Only what the local stack (and the tests building a table) need; nothing here talks to
AWS. ``load()`` accepts CloudFormation's short tags (``!Ref``, ``!Sub``, ``!GetAtt``,
...) and turns them into their long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's parser: the same data ten times faster (every test's table reads the template)
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
DEFAULT_ROUTE = "$default"
_PARAM = re.compile(r"^\{([A-Za-z0-9_.-]+)(\+?)\}$")


class TemplateError(ValueError):
    """template.yaml lacks something the local stack needs."""


class _CfnLoader(_SafeLoader):
    """SafeLoader that also reads CloudFormation short tags."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path: str | Path | None = None) -> dict[str, Any]:
    """The template as plain data (``template.yaml`` of this repo by default)."""
    text = Path(path or TEMPLATE).read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path or TEMPLATE}: no Resources")
    return data


# ---- functions and routes ---------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """An ``AWS::Serverless::Function`` as the local stack runs it."""

    logical_id: str  # SignupFunction
    folder: str  # signup (the last part of CodeUri)
    module: str  # functions.signup.app
    attribute: str  # handler
    timeout: int = 3  # seconds (Lambda's default when the template says nothing)
    memory: int = 128
    environment: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One HTTP API route: ``method`` is upper case (``ANY`` matches every method),
    ``path`` a template like ``/v1/{tenant}/signup`` or ``$default``."""

    method: str
    path: str
    function: str  # logical id
    private: bool = False  # AWS_IAM-authorized in AWS (pre-send check, privacy)

    @property
    def key(self) -> str:
        """The routeKey API Gateway puts into the event (``POST /c/{token}``)."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


def _resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if isinstance(resource, dict) and resource.get("Type") == kind
    }


def _globals(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((template.get("Globals") or {}).get("Function")) or {})


def functions(template: Mapping[str, Any]) -> dict[str, Function]:
    """Every function by logical id (Globals applied the way SAM applies them)."""
    defaults = _globals(template)
    found: dict[str, Function] = {}
    for logical_id, resource in _resources(template, "AWS::Serverless::Function").items():
        props = {**defaults, **(resource.get("Properties") or {})}
        code_uri, handler = props.get("CodeUri"), props.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
            raise TemplateError(f"{logical_id}: needs a local CodeUri folder and a Handler module.function")
        folder_path = code_uri.strip("/").replace("\\", "/")
        handler_module, _, attribute = handler.rpartition(".")
        module = ".".join([*folder_path.split("/"), handler_module])
        env = {
            **((defaults.get("Environment") or {}).get("Variables") or {}),
            **(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}),
        }
        found[logical_id] = Function(
            logical_id=logical_id,
            folder=folder_path.rsplit("/", 1)[-1],
            module=module,
            attribute=attribute,
            timeout=int(props.get("Timeout") or 3),
            memory=int(props.get("MemorySize") or 128),
            environment=env,
        )
    return found


def routes(template: Mapping[str, Any]) -> list[Route]:
    """Every ``HttpApi`` event of every function, in template order.

    An event without ``Path`` and ``Method`` is the ``$default`` route, as in SAM."""
    found: list[Route] = []
    for logical_id, resource in _resources(template, "AWS::Serverless::Function").items():
        events = (resource.get("Properties") or {}).get("Events") or {}
        for name, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            path, method = props.get("Path"), props.get("Method")
            if path is None and method is None:
                found.append(Route("ANY", DEFAULT_ROUTE, logical_id))
                continue
            if not isinstance(path, str) or not path.startswith("/"):
                raise TemplateError(f"{logical_id}.Events.{name}: Path must be a literal starting with /")
            method = str(method or "ANY").upper()
            auth = props.get("Auth")
            private = isinstance(auth, dict) and auth.get("Authorizer") == "AWS_IAM"
            found.append(
                Route(
                    "ANY" if method in ("*", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                    path,
                    logical_id,
                    private,
                )
            )
    return found


def segments(path_template: str) -> list[tuple[str, str]]:
    """``/v1/{tenant}/x/{rest+}`` -> ``[("lit","v1"), ("param","tenant"), ("lit","x"),
    ("greedy","rest")]``. A greedy parameter may only be the last segment."""
    parts = path_template.strip("/").split("/") if path_template.strip("/") else []
    out: list[tuple[str, str]] = []
    for i, part in enumerate(parts):
        match = _PARAM.match(part)
        if not match:
            out.append(("lit", part))
        elif match.group(2):
            if i != len(parts) - 1:
                raise TemplateError(f"{path_template}: a greedy {{{match.group(1)}+}} must be last")
            out.append(("greedy", match.group(1)))
        else:
            out.append(("param", match.group(1)))
    return out


# ---- layers -----------------------------------------------------------------------------


def layer_paths(template: Mapping[str, Any], root: Path = ROOT) -> list[Path]:
    """Folders of the template's own layers (``AWS::Serverless::LayerVersion`` ContentUri).

    In Lambda a layer's code is on ``sys.path`` (``/opt/python``); the local stack puts
    these folders there instead."""
    paths = []
    for resource in _resources(template, "AWS::Serverless::LayerVersion").values():
        uri = (resource.get("Properties") or {}).get("ContentUri")
        if isinstance(uri, str):
            paths.append((root / uri).resolve())
    return paths


@dataclass(frozen=True)
class StreamSource:
    """A ``DynamoDB`` event of a function: the table's stream fed to it as Lambda's event
    source mapping would, ``filters`` being its ``FilterCriteria`` patterns (parsed)."""

    function: str  # logical id
    table: str  # the table's logical id
    batch_size: int = 100
    filters: tuple[dict[str, Any], ...] = ()


def stream_sources(template: Mapping[str, Any]) -> list[StreamSource]:
    """Every function fed by a table's stream (``Stream: !GetAtt Table.StreamArn``)."""
    found: list[StreamSource] = []
    for logical_id, resource in _resources(template, "AWS::Serverless::Function").items():
        events = (resource.get("Properties") or {}).get("Events") or {}
        for name, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "DynamoDB":
                continue
            props = event.get("Properties") or {}
            stream = props.get("Stream")
            target = stream.get("Fn::GetAtt") if isinstance(stream, dict) else None
            if not (isinstance(target, list) and len(target) == 2 and target[1] == "StreamArn"):
                raise TemplateError(f"{logical_id}.Events.{name}: Stream must be !GetAtt <Table>.StreamArn")
            patterns = []
            for entry in (props.get("FilterCriteria") or {}).get("Filters") or []:
                pattern = entry.get("Pattern") if isinstance(entry, dict) else None
                try:
                    parsed = json.loads(pattern) if isinstance(pattern, str) else None
                except ValueError:
                    parsed = None
                if not isinstance(parsed, dict):
                    raise TemplateError(f"{logical_id}.Events.{name}: a filter Pattern must be a JSON object")
                patterns.append(parsed)
            found.append(
                StreamSource(logical_id, str(target[0]), int(props.get("BatchSize") or 100), tuple(patterns))
            )
    return found


# ---- the table --------------------------------------------------------------------------


def table_definition(
    template: Mapping[str, Any], table_name: str, logical_id: str = "ConsentTable"
) -> tuple[dict[str, Any], str | None]:
    """``(create_table kwargs, TTL attribute name or None)`` for the template's table.

    The kwargs are for boto3's ``dynamodb.create_table`` as they are: ``TableName`` (given,
    since the template lets CloudFormation name it), ``AttributeDefinitions``,
    ``KeySchema``, ``GlobalSecondaryIndexes`` / ``LocalSecondaryIndexes`` when present and
    ``BillingMode="PAY_PER_REQUEST"`` and ``StreamSpecification`` when the table has a stream.
    Enable TTL separately with
    ``update_time_to_live(TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})``.
    Pure: reads nothing but its arguments.
    """
    resource = (template.get("Resources") or {}).get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::DynamoDB::Table":
        raise TemplateError(f"no AWS::DynamoDB::Table named {logical_id}")
    props = resource.get("Properties") or {}
    definition: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [dict(a) for a in props["AttributeDefinitions"]],
        "KeySchema": [dict(k) for k in props["KeySchema"]],
        "BillingMode": "PAY_PER_REQUEST",
    }
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = props.get(kind)
        if indexes:
            definition[kind] = [
                {
                    "IndexName": index["IndexName"],
                    "KeySchema": [dict(k) for k in index["KeySchema"]],
                    "Projection": dict(index.get("Projection") or {"ProjectionType": "ALL"}),
                }
                for index in indexes
            ]
    stream = props.get("StreamSpecification")
    if stream:
        definition["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    ttl = props.get("TimeToLiveSpecification") or {}
    ttl_attribute = ttl.get("AttributeName") if ttl.get("Enabled", True) else None
    return definition, ttl_attribute
