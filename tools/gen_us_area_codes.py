"""Write the US area code -> state table the sending rules use (``smsconsent/us_area_codes.txt``),
from phonenumbers' own geocoding data. Run it again when phonenumbers is upgraded;
``tests/unit/test_sending_rules.py`` fails until the committed table matches.

    .venv/bin/python -m tools.gen_us_area_codes [--check]

The geocoder (~20 MB of data) is never shipped in the layer nor imported by a function:
this table, a few kilobytes, is all the pre-send check reads.

An area code maps to a state when phonenumbers names that state for the area code itself
("Florida", or a city in it: "Palm Beach, FL"), or, where it has no entry for the area
code, when every longer prefix it describes lies in that one state. Area codes of Canada
and the Caribbean, of US territories, non-geographic ones (800, 500, ...) and any spread
over several states get no line: no state rule applies to their numbers.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import phonenumbers
from phonenumbers.geodata import GEOCODE_DATA

TABLE = Path(__file__).resolve().parents[1] / "layers/smsconsent/smsconsent/us_area_codes.txt"

STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington State": "WA", "Washington": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
}  # fmt: skip
_CODES = frozenset(STATES.values())
_SUFFIX = re.compile(r", ([A-Z]{2})\Z")


def _state(description: str) -> str | None:
    """The state a geocoder description names: a state's name or "City, XX"."""
    if description in STATES:
        return STATES[description]
    found = _SUFFIX.search(description)
    return found.group(1) if found and found.group(1) in _CODES else None


def _is_us(code: str) -> bool:
    """Whether phonenumbers puts numbers of this area code in the US (not Canada, the
    Caribbean or a territory), judged on a few numbers of it."""
    for line in ("2345678", "5550100", "7654321", "4567890"):
        number = phonenumbers.parse(f"+1{code}{line}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.region_code_for_number(number) == "US"
    return False


def table() -> dict[str, str]:
    """area code -> state (two letters)."""
    own: dict[str, str] = {}
    longer: dict[str, set[str | None]] = defaultdict(set)
    for prefix, names in GEOCODE_DATA.items():
        if not prefix.startswith("1") or len(prefix) < 4 or not names or "en" not in names:
            continue
        if len(prefix) == 4:
            own[prefix[1:]] = names["en"]
        else:
            longer[prefix[1:4]].add(_state(names["en"]))
    out = {}
    for code in sorted(set(own) | set(longer)):
        state = _state(own[code]) if code in own else None
        if code not in own and len(longer[code]) == 1:
            state = next(iter(longer[code]))
        if state is not None and _is_us(code):
            out[code] = state
    return out


def render(codes: dict[str, str]) -> str:
    by_state: dict[str, list[str]] = defaultdict(list)
    for code, state in sorted(codes.items()):
        by_state[state].append(code)
    lines = [
        "# US area code -> state, from phonenumbers' geocoding data: written by",
        "# tools/gen_us_area_codes.py, do not edit. One line per state: its code, then its area codes.",
        f"# phonenumbers {phonenumbers.__version__}",
    ]
    lines += [f"{state} {' '.join(by_state[state])}" for state in sorted(by_state)]
    return "\n".join(lines) + "\n"


def data_lines(text: str) -> list[str]:
    """The table's lines without its comments (a version bump alone changes nothing)."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed table differs")
    args = parser.parse_args(argv)
    text = render(table())
    if args.check:
        if data_lines(TABLE.read_text(encoding="utf-8")) != data_lines(text):
            print(f"{TABLE} is out of date: run python -m tools.gen_us_area_codes", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE}: {len(data_lines(text))} states")
    return 0


if __name__ == "__main__":
    sys.exit(main())
