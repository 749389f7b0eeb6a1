"""The two copies of Odoo 18's language codes (the stand-in's res.lang.csv, the template's
odoo-languages.yml) are exactly those of the real source's base/data/res.lang.csv."""
import csv
import os
from pathlib import Path

import yaml

from ..conftest import ROOT


def test_language_lists_match_the_odoo_source():
    source = Path(os.environ["ODOO_SOURCE"])
    with open(source / "odoo/addons/base/data/res.lang.csv", newline="", encoding="utf-8") as handle:
        real = [row["code"] for row in csv.DictReader(handle)]
    with open(ROOT / "tests/fixtures/odoo-standin/odoo/addons/base/data/res.lang.csv", newline="",
              encoding="utf-8") as handle:
        standin = [row["code"] for row in csv.DictReader(handle)]
    template = yaml.safe_load((ROOT / "odoo-languages.yml").read_text())["odoo_languages"]["default"]
    assert standin == real and template == real, "run tests/fixtures/odoo-standin/tools/generate-languages"
