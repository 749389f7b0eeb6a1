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


def layers(env):
    return [str(p.relative_to(env.root)) for p in env.compose_files]


def test_layers_are_common_plus_environment_plus_monitoring(root):
    # devel: the mail catcher always, monitoring only when asked for
    assert layers(environments.resolve("devel", overrides={"MONITORING": "false"})) == [
        "common.yaml", "devel.yaml", "monitoring/compose/mailcatcher.yaml", "monitoring/compose/mailcatcher-devel.yaml"]
    assert layers(environments.resolve("devel", overrides={"MONITORING": "true"}))[2:4] == [
        "monitoring.yaml", "monitoring/compose/devel.yaml"]
    # servers: monitoring unless turned off; the catcher in staging without a relay, never in prod
    assert layers(environments.resolve("prod", overrides={"MONITORING": "true"})) == [
        "common.yaml", "server.yaml", "prod.yaml", "monitoring.yaml", "monitoring/compose/server.yaml"]
    assert layers(environments.resolve("prod", overrides={"MONITORING": "false", "SMTP_SERVER": ""})) == [
        "common.yaml", "server.yaml", "prod.yaml"]
    assert layers(environments.resolve("staging", overrides={"MONITORING": "false", "SMTP_SERVER": ""}))[-1] == \
        "monitoring/compose/mailcatcher.yaml"
    assert "monitoring/compose/external-db.yaml" in layers(environments.resolve("prod", overrides={
        "MONITORING": "true", "DB_HOST": "pg.example.org"}))
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
    prod = environments.resolve("prod", overrides={"NGINX_HTTPS_PORT": "443", "DOMAIN": "dfr.example.org",
                                                   "MONITORING": "false"})
    assert prod.urls() == {"odoo": "https://dfr.example.org/"}
    watched = environments.resolve("prod", overrides={"DOMAIN": "dfr.example.org", "MONITORING": "true",
                                                      "MONITORING_HTTPS_PORT": "9443"})
    assert watched.urls()["monitoring"].startswith("https://dfr.example.org:9443/")
