import pytest
from dotenv import dotenv_values

from dfr_deploy import environments
from dfr_deploy.errors import DfrError


@pytest.mark.parametrize("alias,name", [("dev", "devel"), ("devel", "devel"), ("PRODUCTION", "prod"), ("staging", "staging")])
def test_aliases_resolve(alias, name):
    assert environments.resolve(alias).name == name


def test_unknown_environment_is_one_line_naming_the_valid_ones():
    with pytest.raises(DfrError) as error:
        environments.resolve("qa")
    message = str(error.value)
    assert "qa" in message and "devel, staging, prod" in message and "\n" not in message


def test_layers_are_common_plus_environment(root):
    assert [p.name for p in environments.resolve("devel").compose_files] == ["common.yaml", "devel.yaml"]
    assert [p.name for p in environments.resolve("prod").compose_files] == ["common.yaml", "server.yaml", "prod.yaml"]
    for name in environments.LAYERS:
        assert all(p.exists() for p in environments.resolve(name).compose_files)


def test_process_environment_and_overrides_win_over_settings_file(monkeypatch, root):
    env = environments.resolve("prod")
    monkeypatch.delenv("WORKERS", raising=False)
    assert env.get("WORKERS") == dotenv_values(root / "config/prod.env")["WORKERS"]
    monkeypatch.setenv("WORKERS", "7")
    assert env.get("WORKERS") == "7"
    env = environments.resolve("prod", overrides={"WORKERS": "9", "PROJECT_NAME": "dfr-ke"})
    assert env.get("WORKERS") == "9"
    assert env.project_name == "dfr-ke-prod"
    assert env.image("odoo") == f"dfr/odoo:{(root / 'VERSION').read_text().strip()}"


def test_project_names_differ_per_environment():
    names = {environments.resolve(n).project_name for n in environments.LAYERS}
    assert len(names) == 3


def test_urls_follow_ports():
    env = environments.resolve("devel", overrides={"NGINX_HTTPS_PORT": "9443", "DOMAIN": "localhost"})
    assert env.urls()["odoo"] == "https://localhost:9443/"
    prod = environments.resolve("prod", overrides={"NGINX_HTTPS_PORT": "443", "DOMAIN": "dfr.example.org"})
    assert prod.urls() == {"odoo": "https://dfr.example.org/"}
