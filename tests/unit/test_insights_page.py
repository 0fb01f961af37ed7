"""web/insights.html, the hostable insights page, as a file: one page with its own script
and style only, which its Content-Security-Policy pins by hash (no other script, style,
font or image can load, even injected), and one source the local stack can point."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "web" / "insights.html"


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_policy_pins_the_pages_own_script_and_style() -> None:
    html = PAGE.read_text(encoding="utf-8")
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.S)
    (policy,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
    assert rules["default-src"] == "'none'"
    assert rules["script-src"] == f"'{_hash(script)}'", "the script changed: put its hash in the policy"
    assert rules["style-src"] == f"'{_hash(style)}'", "the style changed: put its hash in the policy"
    assert rules["connect-src"] == "*"  # the JSON may come from a proxy of the tenant's


def test_nothing_is_loaded_from_elsewhere_and_the_source_is_one_meta() -> None:
    html = PAGE.read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|link|iframe)[^>]*\s(src|href)=", html)
    assert "@import" not in html and "url(" not in html and "@font-face" not in html
    assert html.count('<meta name="insights-source" content="insights.json">') == 1
    assert 'style="' not in html  # inline style attributes would need 'unsafe-inline'
