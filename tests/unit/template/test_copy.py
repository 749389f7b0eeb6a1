"""Issue 3, tests 1 and 2: copies for several countries are complete, valid and safe."""
import configparser
import os
import subprocess
import sys

import pytest
from dotenv import dotenv_values

from dfr_deploy import environments, secrets

from tests.template_helpers import compose_config, copy_template, need_compose  # noqa: F401 (fixture)

COUNTRIES = {
    "ke": {"country_code": "ke", "country_name": "Kenya", "domain_prod": "dfr.kilimo.go.ke",
           "prod_cpu_cores": 8, "prod_memory_gb": 32, "languages": "en_US,sw", "timezone": "Africa/Nairobi"},
    "sn": {"country_code": "sn", "country_name": "Sénégal", "domain_prod": "rnea.agriculture.gouv.sn",
           "prod_cpu_cores": 2, "prod_memory_gb": 4, "languages": "fr_FR"},
    "gh": {"country_code": "gh", "country_name": "Ghana", "db_host": "pg.mofa.gov.gh", "db_port": 6432,
           "db_name": "dfr_gh", "prod_cpu_cores": 16, "prod_memory_gb": 64},
}


@pytest.fixture(scope="module")
def projects(root, tmp_path_factory):
    base = tmp_path_factory.mktemp("countries")
    return {code: copy_template(root, base / code, **answers) for code, answers in COUNTRIES.items()}


def odoo_conf(root, environment):
    """Render odoo.conf exactly as the container would, from the odoo service's environment."""
    target = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"odoo-{os.getpid()}.conf")
    result = subprocess.run([sys.executable, str(root / "odoo/bin/dfr-odoo-config"), target],
                            # secret files (*_FILE) exist only in a container; the guard of staging and
                            # production is the image's own tests' business
                            env={"PATH": os.environ["PATH"], **{k: str(v) for k, v in environment.items()
                                                                if not k.endswith("_FILE") and k != "DFR_ENV"}},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    conf = configparser.RawConfigParser()
    conf.read(target)
    os.unlink(target)
    return dict(conf.items("options"))


def test_generated_project_is_complete(projects):
    for project in projects.values():
        for path in ("tasks.py", "common.yaml", "devel.yaml", "staging.yaml", "prod.yaml", "server.yaml",
                     "odoo/Dockerfile", "postgres/Dockerfile", "nginx/Dockerfile", "Makefile", "setup.sh",
                     "VERSION", "README.md", ".copier-answers.yml", "odoo/custom/src/addons.yaml"):
            assert (project / path).exists(), path
        for path in ("copier.yml", "tests", ".ci", "config/devel.env.jinja", "README.md.jinja", "migrations",
                     "odoo-languages.yml"):
            assert not (project / path).exists(), path
    assert "Kenya" in (projects["ke"] / "README.md").read_text()
    assert "dfr.kilimo.go.ke" in (projects["ke"] / "README.md").read_text()


@pytest.mark.parametrize("env_name", ["devel", "staging", "prod"])
def test_compose_config_and_invariants(projects, root, need_compose, env_name):
    names = set()
    for code, project in projects.items():
        config = compose_config(project, env_name)
        names.add(config["name"])
        services = config["services"]
        odoo_env = services["odoo"]["environment"]
        # secrets: generated, strong, never in the answers, compose files or README
        env = environments.resolve(env_name, root=project)
        secrets.check(env)
        values = [secrets.read(env, name) for name in secrets.FILES if name not in secrets.OPTIONAL | secrets.DERIVED]
        values.append(secrets.read(env, "monitoring_htpasswd"))     # a hash, but never to be published either
        assert len(values) == 7 and all(len(v) >= 32 for v in values)
        layers = [str(p.relative_to(project)) for p in env.compose_files]
        for path in [".copier-answers.yml", "README.md", *layers, f"config/{env_name}.env"]:
            text = (project / path).read_text()
            assert not any(v in text for v in values), path
        conf = odoo_conf(root, odoo_env)
        db_name = COUNTRIES[code].get("db_name", "dfr")
        assert conf["db_name"] == db_name and conf["dbfilter"] == f"^{db_name}$"
        if env_name == "devel":
            continue
        assert "db" not in services or not services["db"].get("ports"), "no database port outside devel"
        assert [p["target"] for s in services.values() for p in s.get("ports", [])] == [80, 443, 9443]   # the site; monitoring behind TLS + basic auth
        workers, maxconn = int(odoo_env["WORKERS"]), int(odoo_env["DB_MAXCONN"])
        assert workers > 0
        if "db" in services:
            max_connections = int(services["db"]["environment"]["POSTGRES_MAX_CONNECTIONS"])
            assert (workers + 3) * maxconn + 20 <= max_connections
    assert len(names) == len(projects)


def test_external_database_host(projects, need_compose):
    config = compose_config(projects["gh"], "prod")
    assert "db" not in config["services"]
    odoo = config["services"]["odoo"]["environment"]
    assert odoo["DB_HOST"] == "pg.mofa.gov.gh" and odoo["DB_PORT"] == "6432"
    assert "db" not in config["services"]["odoo"].get("depends_on", {}) or \
        config["services"]["odoo"]["depends_on"]["db"]["required"] is False
    # devel still runs its own database
    assert "db" in compose_config(projects["gh"], "devel")["services"]


def test_sizing_follows_the_host(projects):
    big = dotenv_values(projects["ke"] / "config/prod.env")
    small = dotenv_values(projects["sn"] / "config/prod.env")
    assert int(big["WORKERS"]) == 17  # 2 x 8 + 1, memory allows it
    assert int(small["WORKERS"]) == 2  # 4 GB caps it
    assert int(big["LIMIT_MEMORY_HARD"]) <= 2560 * 1024 * 1024
    assert big["ODOO_LANGUAGES"] == "en,sw" and big["LOAD_LANGUAGE"] == "en_US,sw"
    assert big["IMAGE_TAG"] == (projects["ke"] / "VERSION").read_text().strip()


@pytest.mark.parametrize("answers,field", [
    ({"country_code": "XX1"}, "country_code"),
    ({"country_code": "zz"}, "country_code"),
    ({"country_code": "ke", "domain_prod": "dfr kilimo.go.ke"}, "domain_prod"),
    ({"country_code": "ke", "prod_memory_gb": 0}, "prod_memory_gb"),
    ({"country_code": "ke", "admin_email": "not-an-address"}, "admin_email"),
    ({"country_code": "ke", "postgres_max_connections": 30}, "postgres_max_connections"),
])
def test_invalid_answers_are_refused_naming_the_field(root, tmp_path, answers, field):
    with pytest.raises(Exception) as error:
        copy_template(root, tmp_path / "bad", **answers)
    assert field in str(error.value)
    assert not (tmp_path / "bad" / ".docker").exists()  # nothing generated


def test_repository_settings_are_the_template_rendered_with_its_own_answers(root, tmp_path):
    """One data model: config/*.env of this repository == the template rendered from
    tests/fixtures/self-answers.yml (re-render with `make render_config`)."""
    import yaml
    answers = yaml.safe_load((root / "tests/fixtures/self-answers.yml").read_text())
    project = copy_template(root, tmp_path / "self", **answers)
    for env_name in environments.LAYERS:
        assert (project / f"config/{env_name}.env").read_text() == (root / f"config/{env_name}.env").read_text(), env_name
