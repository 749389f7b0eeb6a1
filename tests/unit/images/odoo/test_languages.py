"""Odoo 18's list of languages, kept twice (codes only, generated from Odoo's res.lang.csv by
tests/fixtures/odoo-standin/tools/generate-languages): the stand-in's res.lang.csv and the
template's odoo-languages.yml, which copier uses to refuse a code Odoo would silently skip."""
import csv

import pytest
import yaml

from tests.template_helpers import copy_template

STANDIN_CSV = "tests/fixtures/odoo-standin/odoo/addons/base/data/res.lang.csv"


def standin_codes(root):
    with open(root / STANDIN_CSV, newline="", encoding="utf-8") as handle:
        return [row["code"] for row in csv.DictReader(handle)]


def template_codes(root):
    return yaml.safe_load((root / "odoo-languages.yml").read_text())["odoo_languages"]["default"]


def test_both_lists_hold_the_same_odoo_codes(root):
    codes = standin_codes(root)
    assert codes == template_codes(root)
    assert len(codes) == len(set(codes)) == 92
    assert {"en_US", "fr_FR", "sw", "pt_BR", "es_419", "sr@latin", "ar_001"} <= set(codes)
    assert not {"sw_KE", "dz_BT", "en", "fr"} & set(codes)


def test_the_languages_question_is_computed_from_the_list(root):
    question = yaml.safe_load((root / "odoo-languages.yml").read_text())["odoo_languages"]
    assert question["when"] is False and question["type"] == "yaml"  # never asked, never stored


@pytest.mark.parametrize("answer,message", [
    ("en_US,sw_KE", "sw_KE (use sw)"),
    ("en_US,dz_BT", "dz_BT (it has no dz language at all)"),
    ("fr_fr", "fr_fr (use fr_FR)"),
    ("en_US,,fr_FR", "an empty code"),
    ("pt", "pt (use pt_AO or pt_BR or pt_PT)"),
])
def test_copier_refuses_a_code_odoo_does_not_know_and_names_the_close_one(root, tmp_path, answer, message):
    with pytest.raises(ValueError) as refused:
        copy_template(root, tmp_path / "project", country_code="ke", languages=answer)
    text = str(refused.value)
    assert "Odoo 18 does not know" in text and message in text, text
    assert len(text.splitlines()) == 1
    assert not (tmp_path / "project" / "config").exists()


def test_copier_accepts_odoo_codes_and_the_example_of_the_question(root, tmp_path):
    config = yaml.safe_load((root / "copier.yml").read_text().split("\n---\n")[-1])
    example = config["languages"]["help"].split("e.g. ")[1].rstrip(")")
    assert example == "en_US,fr_FR,sw"
    project = copy_template(root, tmp_path / "project", country_code="ke", languages=example)
    settings = (project / "config" / "prod.env").read_text()
    assert "LOAD_LANGUAGE=en_US,fr_FR,sw" in settings and "ODOO_LANGUAGES=en,fr,sw" in settings
    assert "odoo_languages" not in (project / ".copier-answers.yml").read_text()
