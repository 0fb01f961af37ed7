"""Write the country names the pages show (``smsconsent/country_names.tsv``: code, English,
German) for every region phonenumbers knows, from Debian's iso-codes (ISO 3166-1 with
its translations, kept current by Debian: "Czechia", "North Macedonia"). Run it again when
iso-codes or phonenumbers is upgraded (``apt-get install iso-codes``).

    .venv/bin/python -m tools.gen_country_names [--check]

phonenumbers ships names too (``geodata.locale``, from Java 8's ``Locale``), but they are
dated ("Czech Republic", "Macedonia"), and the layer leaves ``geodata`` out (~20 MB). A
table of a few kilobytes is all the pages read.
"""

from __future__ import annotations

import argparse
import gettext
import json
import sys
from pathlib import Path

import phonenumbers

TABLE = Path(__file__).resolve().parents[1] / "layers/smsconsent/smsconsent/country_names.tsv"
ISO_CODES = Path("/usr/share/iso-codes/json/iso_3166-1.json")
LOCALES = Path("/usr/share/locale")
# Regions of phonenumbers that ISO 3166-1 has no code for (their own or user-assigned).
EXTRA = {
    "AC": ("Ascension Island", "Ascension"),
    "TA": ("Tristan da Cunha", "Tristan da Cunha"),
    "XK": ("Kosovo", "Kosovo"),
}


def table() -> dict[str, tuple[str, str]]:
    entries = json.loads(ISO_CODES.read_text(encoding="utf-8"))["3166-1"]
    german = gettext.translation("iso_3166-1", localedir=str(LOCALES), languages=["de"])
    names = {}
    for entry in entries:
        # The common name where ISO's is formal ("Iran" for "Iran, Islamic Republic of").
        english = entry.get("common_name") or entry["name"]
        names[entry["alpha_2"]] = (english, german.gettext(english))
    wanted = sorted(phonenumbers.SUPPORTED_REGIONS)
    return {code: names.get(code) or EXTRA[code] for code in wanted}


def render(names: dict[str, tuple[str, str]]) -> str:
    lines = [
        "# Country names (ISO 3166-1 alpha-2, English, German) from Debian's iso-codes:",
        "# written by tools/gen_country_names.py, do not edit.",
    ]
    lines += [f"{code}\t{en}\t{de}" for code, (en, de) in sorted(names.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed table differs")
    args = parser.parse_args(argv)
    text = render(table())
    if args.check:
        if TABLE.read_text(encoding="utf-8") != text:
            print(f"{TABLE} is out of date: run python -m tools.gen_country_names", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE}: {len(text.splitlines()) - 2} countries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
