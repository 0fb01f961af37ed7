"""The documentation in the repository stays true to it: links resolve, every tenant
setting the demo tenant uses is documented, every error code the API describes is in
the error table."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

# [text](target) and ![alt](target); a target ends at whitespace or ")".
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(path: Path) -> str:
    """The page without its code blocks (a snippet's brackets are no links)."""
    return _FENCE.sub("", path.read_text(encoding="utf-8"))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _relative_links() -> Iterator[tuple[Path, str]]:
    for page in PAGES:
        for target in _LINK.findall(_prose(page)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto: ... are not files of the repository
            yield page, target


def test_docs_folder_exists_with_its_pages() -> None:
    # Given a clone of the repository
    # Then the behaviour is documented in it, not in a file that ships elsewhere
    for name in ("README.md", "behaviour.md", "embed-signup.md", "tenant-settings.md"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"


def test_readme_points_to_docs_not_to_a_spec_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/" in readme
    assert "SPEC.md" not in readme


def test_readme_keeps_the_two_commands_first() -> None:
    # The first code block of the README is still the one a newcomer needs.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```", 2)[1]
    assert "make run" in first_block and "make test" in first_block


def test_every_relative_link_points_to_a_file_that_exists() -> None:
    links = list(_relative_links())
    assert links, "the pages link nothing: the link pattern is broken"
    broken = []
    for page, target in links:
        path_part, _, fragment = target.partition("#")
        file = (page.parent / path_part).resolve() if path_part else page
        if not file.exists():
            broken.append(f"{page.relative_to(ROOT)}: {target}")
            continue
        if fragment and file.suffix == ".md":
            anchors = {_anchor(h) for h in _HEADING.findall(_prose(file))}
            if fragment not in anchors:
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


# ---- tenant settings ------------------------------------------------------------------------

# Maps whose keys the tenant chooses: documented with a placeholder.
_NAMED = {"purposes": "<name>", "consent_texts": "<id>"}
# Values documented as a whole (a map of country, language or version to a value).
_WHOLE = {
    "optout_shortcodes",
    "help_text",
    "message_frequency",
    "rate_limits.sms_per_country_per_hour",
    "purposes.<name>.description",
    "consent_texts.<id>.versions",
}


def _is_secret_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("value", "secret", "ssm")


def _setting_paths(doc: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every top-level key and every leaf setting of ``doc``, as dotted paths."""
    for key, value in doc.items():
        path = prefix + key
        if path in _NAMED:
            yield path
            for spec in value.values():
                yield from _setting_paths(spec, f"{path}.{_NAMED[path]}.")
        elif isinstance(value, dict) and path not in _WHOLE and not _is_secret_ref(value):
            if not prefix:
                yield path
            yield from _setting_paths(value, path + ".")
        else:
            yield path


def _documented_settings() -> set[str]:
    """The first cell of every table row of docs/tenant-settings.md, when it is `code`."""
    rows = (DOCS / "tenant-settings.md").read_text(encoding="utf-8").splitlines()
    return {m.group(1) for line in rows if (m := re.match(r"^\|\s*`([^`]+)`\s*\|", line))}


def test_every_setting_of_the_demo_tenant_is_documented() -> None:
    demo = json.loads((ROOT / "local" / "tenants" / "demo.json").read_text(encoding="utf-8"))
    wanted = set(_setting_paths(demo))
    sample = {"double_opt_in.token_ttl_hours", "providers.twilio.auth_token", "purposes.<name>.category"}
    assert sample <= wanted
    assert sorted(wanted - _documented_settings()) == []


def test_setting_paths_walks_named_maps_and_stops_at_secrets() -> None:
    doc = {
        "id": "x",
        "purposes": {"news": {"category": "marketing", "description": {"en": "news"}}},
        "providers": {"cm": {"webhook_secret": {"ssm": "/a"}}},
        "optout_shortcodes": {"FR": "36111"},
    }
    assert sorted(_setting_paths(doc)) == [
        "id",
        "optout_shortcodes",
        "providers",
        "providers.cm.webhook_secret",
        "purposes",
        "purposes.<name>.category",
        "purposes.<name>.description",
    ]


# ---- error codes ----------------------------------------------------------------------------


def _codes_in(node: Any) -> Iterator[str]:
    """The values of every ``code`` property schema (enum, const, examples) in openapi.yaml."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "code" and isinstance(value, dict):
                for word in (*value.get("enum", ()), *value.get("examples", ())):
                    yield str(word)
                if "const" in value:
                    yield str(value["const"])
            yield from _codes_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _codes_in(item)


def _error_table() -> set[str]:
    """The codes (second column) of the table under "## Error codes" in behaviour.md."""
    text = (DOCS / "behaviour.md").read_text(encoding="utf-8")
    section = text.split("\n## Error codes", 1)[1].split("\n## ", 1)[0]
    codes = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3:
            codes.update(re.findall(r"`([a-z_]+)`", cells[1]))
    return codes


def test_every_error_code_of_openapi_is_in_the_error_table() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    # An import's row codes are data of a 200 answer, not HTTP errors: their own table
    import_status = spec["components"]["schemas"].pop("ImportStatus")
    codes = set(_codes_in(spec))
    assert {"malformed_body", "rate_limited", "invalid_signature"} <= codes
    assert sorted(codes - _error_table()) == []
    row_codes = set(_codes_in(import_status))
    from smsconsent import import_rows

    assert row_codes == set(import_rows.ROW_CODES)
    text = (ROOT / "docs" / "behaviour.md").read_text(encoding="utf-8")
    table = text.split("| row code | when |", 1)[1].split("\n\n", 1)[0]
    assert {c for c in row_codes if f"| `{c}` |" not in table} == set()


@pytest.mark.parametrize(
    "heading, anchor",
    [
        ("Error codes", "error-codes"),
        ("`thank_you_url` and the 303", "thank_you_url-and-the-303"),
        ("Rate limits, and 429 Retry-After", "rate-limits-and-429-retry-after"),
    ],
)
def test_anchor_follows_github(heading: str, anchor: str) -> None:
    assert _anchor(heading) == anchor


def test_every_key_the_tenant_parser_knows_is_documented() -> None:
    # Given the keys the tenant parser accepts (anything else is refused)
    from smsconsent import tenants

    sections = {
        "": tenants.TENANT_KEYS,
        "double_opt_in.": tenants.DOUBLE_OPT_IN_KEYS,
        "rate_limits.": tenants.RATE_LIMITS_KEYS,
        "quiet_hours.": tenants.QUIET_HOURS_KEYS,
        "frequency_cap.": tenants.FREQUENCY_CAP_KEYS,
        "sending_rules.": tenants.SENDING_RULES_KEYS,
        "sms.": tenants.SMS_KEYS,
        "optout_alarm.": tenants.OPTOUT_ALARM_KEYS,
        "keywords.": tenants.KEYWORDS_KEYS,
        "purposes.<name>.": tenants.PURPOSE_KEYS,
        "consent_texts.<id>.": tenants.CONSENT_TEXT_KEYS,
        **{f"providers.{name}.": keys for name, keys in tenants.PROVIDER_KEYS.items()},
    }
    known = {prefix + key for prefix, keys in sections.items() for key in keys}
    # Then each has its row in docs/tenant-settings.md
    assert sorted(known - _documented_settings()) == []
