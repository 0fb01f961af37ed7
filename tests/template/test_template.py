"""template.yaml: it lints, validates and builds without Docker, and it agrees with the
code on disk (function folders, layer dependencies) and with the no-plain-secrets rule."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local import template as local_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BIN = Path(sys.executable).parent  # cfn-lint and sam live next to the test interpreter
FUNCTION_CODE_URI = re.compile(r"^functions/([a-z0-9_-]+)/?$")
SECRET_LIKE_NAME = re.compile(r"SECRET|TOKEN|KEY|PASSWORD|PEPPER", re.IGNORECASE)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return local_template.load(TEMPLATE)


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SAM_CLI_TELEMETRY"] = "0"  # no call home from a test run
    env.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
    # As if the virtualenv were activated: sam finds its tools, the Makefiles run its python3.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(*args: str | Path, timeout: int, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed commands, no shell
        [str(a) for a in args], cwd=cwd, env=_tool_env(), capture_output=True, text=True, timeout=timeout
    )


def test_cfn_lint_passes() -> None:
    # Given the template, When cfn-lint checks it, Then it reports nothing (warnings included).
    result = _run(BIN / "cfn-lint", TEMPLATE, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    result = _run(BIN / "sam", "validate", "--lint", "--template-file", TEMPLATE, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _lambda_python() -> str:
    """The python3.13 the Makefiles compile with ("" when this machine has none)."""
    result = _run(
        "make",
        "--no-print-directory",
        "-f",
        ROOT / "layers" / "lambda-bytecode.mk",
        "--eval",
        "print-lambda-python: ; @echo $(LAMBDA_PYTHON)",
        "print-lambda-python",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.slow
def test_sam_build_without_docker(tmp_path: Path, template: dict[str, Any]) -> None:
    # Given no Docker, When sam build runs the Makefiles,
    build_dir = tmp_path / "build"
    result = _run(
        BIN / "sam",
        "build",
        "--template-file",
        TEMPLATE,
        "--build-dir",
        build_dir,
        "--no-cached",
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # Then the layer holds the domain package and the runtime dependencies for /opt/python,
    layer = build_dir / "SharedLayer" / "python"
    for package in ("smsconsent", "pynamodb", "phonenumbers", "aws_lambda_powertools", "orjson"):
        assert (layer / package).is_dir(), f"{package} missing from the layer"
    # but not what the Lambda runtime already ships (botocore alone is ~80 MB),
    for runtime_package in ("botocore", "boto3", "s3transfer"):
        assert not (layer / runtime_package).exists(), f"{runtime_package} must not be in the layer"
    # and every function is built with its handler module.
    for logical_id in _functions(template):
        assert (build_dir / logical_id / "app.py").is_file(), f"{logical_id} built without app.py"

    # And every module ships python3.13 bytecode that Lambda loads without reading the source.
    python313 = _lambda_python()
    if not python313:
        # (Without a python3.13 the build still works and says what it costs.)
        assert "ships without bytecode" in result.stdout + result.stderr
        assert not list((layer / "smsconsent").rglob("__pycache__"))
        return
    _assert_bytecode_for(python313, layer, [build_dir / f for f in _functions(template)])


def _assert_bytecode_for(python: str, layer: Path, function_dirs: list[Path]) -> None:
    magic = subprocess.run(  # noqa: S603 - the Makefiles' own interpreter
        [python, "-c", "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sources = [*layer.rglob("*.py"), *(d / "app.py" for d in function_dirs)]
    assert len(sources) > 500, len(sources)
    missing = []
    for source in sources:
        cached = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        if not cached.is_file():
            missing.append(str(source))
            continue
        header = cached.read_bytes()[:8]
        # PEP 552: the 3.13 magic number, then flags 0b01 (hash-based, source not checked).
        assert header[:4].hex() == magic and int.from_bytes(header[4:8], "little") == 1, cached
    assert not missing, missing[:5]
    # A module whose source is now garbage still imports: its bytecode is what runs.
    (layer / "smsconsent" / "phone.py").write_text("raise SystemExit('compiled from source')\n")
    answer = subprocess.run(  # noqa: S603
        [
            python,
            "-B",
            "-c",
            f"import sys; sys.path.insert(0, {str(layer)!r}); import smsconsent.phone as p; print(p.parse)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0 and "function parse" in answer.stdout, answer.stdout + answer.stderr


def _build_signup(
    artifacts: Path, *settings: str, makefile: Path = ROOT / "functions" / "Makefile"
) -> subprocess.CompletedProcess[str]:
    return _run(
        "make",
        "--no-print-directory",
        "--makefile",
        makefile,
        "build-SignupFunction",
        f"ARTIFACTS_DIR={artifacts}",
        *settings,
        cwd=ROOT / "functions" / "signup",
        timeout=60,
    )


def test_build_without_python313_warns_and_ships_source(tmp_path: Path) -> None:
    # Given a machine without python3.13 (LAMBDA_PYTHON empty), When a function is built,
    result = _build_signup(tmp_path, "LAMBDA_PYTHON=")
    # Then it still builds, warns what that costs, and ships no stale bytecode.
    assert result.returncode == 0, result.stderr
    assert "ships without bytecode, so every cold start compiles it" in result.stderr
    assert (tmp_path / "app.py").is_file()
    assert not (tmp_path / "__pycache__").exists()


def test_build_with_another_python_as_lambda_python_fails(tmp_path: Path) -> None:
    # Given LAMBDA_PYTHON naming this (3.11+, not 3.13) interpreter, When a function is built,
    result = _build_signup(tmp_path, f"LAMBDA_PYTHON={sys.executable}")
    # Then the build stops, saying why: its bytecode would never be used on Lambda.
    assert result.returncode != 0
    assert "is not 3.13" in result.stderr and "cannot compile for Lambda" in result.stderr


def test_a_container_build_without_the_shared_rules_builds_and_warns(tmp_path: Path) -> None:
    # Given functions/Makefile alone (sam build --use-container mounts only its folder),
    alone = tmp_path / "mounted"
    alone.mkdir()
    (alone / "Makefile").write_text((ROOT / "functions" / "Makefile").read_text())
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    # When a function is built, Then it builds, and says it ships without bytecode.
    result = _build_signup(artifacts, makefile=alone / "Makefile")
    assert result.returncode == 0, result.stderr
    assert "not found (a container build?)" in result.stderr
    assert (artifacts / "app.py").is_file()


def _top_level_names(source: str) -> set[str]:
    """Names a module defines at top level (def, assignment or import)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def test_function_folders_match_logical_ids(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert functions, "no functions in the template"
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        match = FUNCTION_CODE_URI.match(props["CodeUri"])
        assert match, f"{logical_id}: CodeUri {props['CodeUri']!r} is not functions/<name>/"
        name = match.group(1)
        camel = "".join(part.capitalize() for part in re.split(r"[-_]", name))
        assert logical_id == f"{camel}Function", f"functions/{name}/ must be {camel}Function"
        assert props["Handler"] == "app.handler", logical_id

        folder = ROOT / "functions" / name
        app = folder / "app.py"
        assert app.is_file(), f"{app.relative_to(ROOT)} is missing"
        assert "handler" in _top_level_names(app.read_text()), f"{app.relative_to(ROOT)} has no handler"
        # Dependencies come from the layer only: a second copy would shadow it.
        assert not (folder / "requirements.txt").exists(), f"{folder} must not have a requirements.txt"
        # sam build has no python3.13 here: every function builds through functions/Makefile.
        assert resource.get("Metadata") == {"BuildMethod": "makefile", "ContextPath": "functions"}, logical_id


def test_functions_log_to_their_own_group_with_retention(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    for logical_id, resource in _functions(template).items():
        log_group = resource["Properties"]["LoggingConfig"]["LogGroup"]
        assert set(log_group) == {"Ref"}, logical_id
        group = resources[log_group["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id


def _references_resources(value: Any, resources: set[str]) -> bool:
    """True when value is !Ref/!GetAtt/!Sub of template resources (not a literal)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    fn, arg = next(iter(value.items()))
    if fn == "Ref":
        return arg in resources
    if fn == "Fn::GetAtt":
        return arg[0] in resources
    if fn == "Fn::Sub":
        text = arg if isinstance(arg, str) else arg[0]
        names = {ref.split(".", 1)[0] for ref in re.findall(r"\$\{([^}!]+)\}", text)}
        return bool(names) and names <= resources
    return False


def test_no_plain_text_secrets(template: dict[str, Any]) -> None:
    resources = set(template["Resources"])
    environments = [("Globals", template.get("Globals", {}).get("Function", {}))] + [
        (logical_id, resource.get("Properties", {}))
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    ]
    for owner, props in environments:
        variables = props.get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            if SECRET_LIKE_NAME.search(name):
                assert _references_resources(value, resources), (
                    f"{owner}: {name} must reference a resource (!Ref/!GetAtt/!Sub), not a literal"
                )
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            props = resource["Properties"]
            assert "SecretString" not in props, f"{logical_id}: generate the secret, never write it"
            assert "GenerateSecretString" in props, logical_id


def _requirements(lines: list[str]) -> dict[str, frozenset[str]]:
    """{canonical name: {specifier, ...}} for simple PEP 508 lines (no markers needed here)."""
    parsed = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)", line)
        assert match, f"cannot read requirement {line!r}"
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        parsed[name] = frozenset(s.replace(" ", "") for s in match.group(2).split(",") if s.strip())
    return parsed


def test_layer_requirements_match_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = _requirements(project["dependencies"])
    expected.pop("boto3", None)  # the Lambda runtime ships boto3; the layer must not
    layer = _requirements((ROOT / "layers" / "smsconsent" / "requirements.txt").read_text().splitlines())
    assert layer == expected


def test_the_sam_transform_accepts_the_template(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `sam deploy` sends CloudFormation must translate: e.g. AWS_IAM routes need the
    API's IAM authorizer enabled, which `sam validate --lint` does not check."""
    import copy

    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    document = copy.deepcopy(template)
    for resource in document["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = "s3://bucket/key"  # what sam package puts there

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    resources = transform(document, {}, NoManagedPolicies())["Resources"]
    api = next(r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api")
    paths = api["Properties"]["Body"]["paths"]
    assert paths["/v1/{tenant}/check"]["post"]["security"] == [{"AWS_IAM": []}]
    assert paths["/v1/{tenant}/subjects/{phone}"]["delete"]["security"] == [{"AWS_IAM": []}]
    assert "security" not in paths["/v1/{tenant}/signup"]["post"]
    assert "ExpiryFunctionDailyQueue" in resources  # the schedule's dead-letter queue


# ---- tenant configuration is written by operators only -----------------------------------

# Every way a function role could change an item (TransactWriteItems is authorized per
# contained Put/Update/Delete, so these cover it too).
TABLE_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
CONFIG_KEYS = {"TENANT#*", "INBOUND#*"}  # tenant settings and inbound-number mappings


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any], policies: list[Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in policies:
        if isinstance(policy, dict) and "Ref" in policy:
            resource = template["Resources"][policy["Ref"]]
            assert resource["Type"] == "AWS::IAM::ManagedPolicy", policy
            statements += _listed(resource["Properties"]["PolicyDocument"]["Statement"])
        elif isinstance(policy, dict) and "Statement" in policy:
            statements += _listed(policy["Statement"])
        else:
            # A SAM policy template: none may reach the table (DynamoDBCrudPolicy, ...).
            name = policy if isinstance(policy, str) else next(iter(policy))
            assert "dynamodb" not in name.lower(), f"{name} would grant table access past the deny"
    return statements


def test_every_function_is_denied_writes_to_tenant_and_inbound_number_items(template):
    # Given each function's policies, Then a Deny covers every table write whose partition key
    # is a tenant's settings (TENANT#...) or an inbound-number mapping (INBOUND#...): a
    # compromised function cannot rewrite a tenant's configuration or steal its numbers.
    table = {"Fn::GetAtt": ["ConsentTable", "Arn"]}
    for name, function in _functions(template).items():
        statements = _statements(template, function["Properties"].get("Policies", []))
        denied: set[str] = set()
        for statement in statements:
            if statement["Effect"] != "Deny" or table not in _listed(statement["Resource"]):
                continue
            keys = statement.get("Condition", {}).get("ForAnyValue:StringLike", {})
            if set(_listed(keys.get("dynamodb:LeadingKeys", []))) >= CONFIG_KEYS:
                denied |= set(_listed(statement["Action"]))
        assert denied >= TABLE_WRITES, f"{name}: writes to tenant items not denied: {TABLE_WRITES - denied}"
        allowed = {
            action
            for statement in statements
            if statement["Effect"] == "Allow"
            for action in _listed(statement["Action"])
            if action.startswith("dynamodb:")
        }
        assert not {a for a in allowed if "*" in a or a.startswith("dynamodb:PartiQL")}, name
        assert allowed & TABLE_WRITES <= denied, name


def test_no_function_is_told_to_accept_plain_text_secrets(template):
    # {"value": ...} tenant secrets are for the local stack: nothing in AWS may switch them on.
    for name, function in _functions(template).items():
        assert "ALLOW_PLAIN_SECRETS" not in function["Properties"].get("Environment", {}).get(
            "Variables", {}
        ), name
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    assert "ALLOW_PLAIN_SECRETS" not in globals_env


def _metrics_the_code_writes() -> set[str]:
    """Every business metric name ``metrics.count`` is called with in the layer."""
    layer = ROOT / "layers" / "smsconsent" / "smsconsent"
    names: set[str] = set()
    for path in layer.rglob("*.py"):
        names |= set(re.findall(r'metrics\.count\(\s*"([A-Za-z]+)"', path.read_text(encoding="utf-8")))
    return names


def test_the_insights_dashboard_shows_what_the_code_counts_and_every_functions_errors(
    template: dict[str, Any],
) -> None:
    import json

    resources = template["Resources"]
    dashboard = resources["InsightsDashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # Every ${...} names a resource of the template or a pseudo parameter
    for ref in re.findall(r"\$\{([^}]+)\}", text):
        name = ref.split(".", 1)[0]
        assert name in resources or name.startswith("AWS::"), ref
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
    shown: set[str] = set()
    lambdas: set[str] = set()
    for widget in body["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            first = metric[0]
            if isinstance(first, dict):
                shown |= set(re.findall(r'MetricName="([A-Za-z]+)"', first["expression"]))
            elif first == "SmsConsent":
                shown.add(metric[1])
            elif first == "AWS/Lambda":
                lambdas.add(metric[3])
    # Then it shows only metrics the functions write, and those the issue names
    assert shown <= _metrics_the_code_writes(), shown - _metrics_the_code_writes()
    assert {
        "SignupsAccepted",  # signups
        "ConfirmationSmsSent",  # SMS sent
        "ConsentConfirmed",  # confirmations
        "OptOuts",  # opt-outs by via
        "OptOutKeywords",  # and by keyword
        "SignupRateLimited",  # pumping refusals
        "InboundReplyWithheld",
        "CampaignOptOutRateHigh",
    } <= shown
    # And the errors of every function
    assert lambdas
    named = set(re.findall(r'"FunctionName", "\$\{([A-Za-z]+)\}"', text))
    assert named == set(_functions(template))
