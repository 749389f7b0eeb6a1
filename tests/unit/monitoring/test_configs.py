"""Configs rendered from the settings: Debian's own tools accept them (promtool check config,
amtool check-config, blackbox --config.check, mtail -compile_only), alert mail goes to the relay
or else the catcher with the password left in its file, and a bad setting stops a service with
one line that names it."""
import json

import pytest
import yaml

from .conftest import MONITORING, ROOT, run_tool

RELAY = {"SMTP_SERVER": "smtp.example.org", "SMTP_PORT": "587", "SMTP_SSL": "True", "SMTP_USER": "alerts@example.org",
         "ALERT_EMAIL_TO": "ops@example.org,it@example.org", "ALERT_WEBHOOK_URL": "https://hooks.example.org/dfr"}


def test_tools_accept_the_configs_rendered_with_the_defaults(image):
    result = run_tool(image, "check")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "is valid prometheus config file syntax" in out and "SUCCESS: 18 rules found" in out
    assert "Checking" in out and "SUCCESS" in out.split("amtool check-config", 1)[1]
    assert "Config file is ok" in out and "Loaded program nginx.mtail" in out


def test_tools_accept_a_relay_with_a_login_and_a_webhook(image):
    result = run_tool(image, "check", env=RELAY)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command, env, named", [
    ("prometheus", {"ALERT_DISK_FREE_RATIO": "ten percent"}, "ALERT_DISK_FREE_RATIO"),
    ("alertmanager", {"SMTP_SERVER": "smtp.example.org;rm"}, "SMTP_SERVER"),
    ("postgres-exporter", {"DATA_SOURCE_PASS_FILE": "/run/secrets/monitoring_db_password"}, "monitoring_db_password"),
])
def test_a_bad_setting_stops_the_service_with_one_line(image, command, env, named):
    result = run_tool(image, command, env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and named in lines[0], result.stderr


def test_alert_mail_goes_to_the_catcher_without_a_relay():
    from dfr_monitoring import render, settings

    config = render.alertmanager_config(settings.load({"ALERT_EMAIL_TO": "ops@example.org", "DOMAIN": "dfr.example.org"}))
    assert config["global"]["smtp_smarthost"] == "mailcatcher:1025"
    assert config["global"]["smtp_require_tls"] is False and "smtp_auth_username" not in config["global"]
    assert config["global"]["smtp_from"] == "dfr-alerts@dfr.example.org"
    assert config["receivers"] == [{"name": "operators", "email_configs": [{
        "to": "ops@example.org", "send_resolved": True, "headers": {"Subject": '{{ template "dfr.email.subject" . }}'},
        "text": '{{ template "dfr.email.text" . }}'}]}]


def test_alert_mail_goes_to_the_relay_with_the_password_left_in_its_file(tmp_path, monkeypatch):
    from dfr_monitoring import render, settings

    (tmp_path / "smtp_password").write_text("relay-Secret-123")
    (tmp_path / "alert_webhook_token").write_text("hook-Token-456")
    monkeypatch.setattr(render, "SECRETS", tmp_path)
    config = render.alertmanager_config(settings.load(RELAY))
    text = json.dumps(config)
    assert "relay-Secret-123" not in text and "hook-Token-456" not in text
    assert config["global"]["smtp_smarthost"] == "smtp.example.org:587" and config["global"]["smtp_require_tls"] is True
    assert config["global"]["smtp_auth_password_file"] == str(tmp_path / "smtp_password")
    hook = config["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == RELAY["ALERT_WEBHOOK_URL"]
    assert hook["http_config"]["authorization"]["credentials_file"] == str(tmp_path / "alert_webhook_token")


def test_the_obvious_is_inhibited():
    from dfr_monitoring import render, settings

    rules = render.alertmanager_config(settings.load({}))["inhibit_rules"]
    pairs = {(r["source_matchers"][0], r["target_matchers"][0]) for r in rules}
    assert ('alertname="PostgresDown"', 'alertname=~"OdooDown|HighErrorRate|SlowResponses|TooManyConnections"') in pairs
    assert ('alertname="NginxDown"', 'alertname=~"OdooDown|HighErrorRate|SlowResponses"') in pairs
    assert all("environment" in r["equal"] and "project" in r["equal"] for r in rules)


def test_prometheus_reads_every_target_and_labels_every_alert():
    from dfr_monitoring import render, settings

    config = render.prometheus_config(settings.load({"DFR_ENV": "prod", "COMPOSE_PROJECT_NAME": "dfr-prod",
                                                     "PROMETHEUS_SCRAPE_INTERVAL": "2s"}), "/r")
    assert config["global"]["external_labels"] == {"environment": "prod", "project": "dfr-prod"}
    assert config["global"]["scrape_timeout"] == "2s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "alertmanager", "postgres", "nginx", "node", "mtail", "blackbox", "odoo_health"}
    assert jobs["node"]["honor_labels"] is True   # the backup jobs' own `job` label survives
    assert jobs["odoo_health"]["static_configs"][0]["targets"] == ["https://nginx/web/health?db_server_status=1"]


@pytest.mark.parametrize("name, value", [
    ("PROMETHEUS_SCRAPE_INTERVAL", "0s"), ("PROMETHEUS_SCRAPE_INTERVAL", "30"), ("ALERT_CONNECTIONS_RATIO", "1.5"),
    ("DOMAIN", "dfr.example.org; rm -rf /"), ("ALERT_EMAIL_TO", 'ops@example.org,"x"@y'), ("SMTP_PORT", "99999"),
    ("ALERT_WEBHOOK_URL", "file:///etc/passwd"), ("DFR_ENV", "prod\ninjected"),
])
def test_settings_refuse_bad_values(name, value):
    from dfr_monitoring import settings

    with pytest.raises(settings.SettingError, match=name):
        settings.load({name: value})


def test_a_rule_placeholder_that_is_no_setting_is_an_error(tmp_path, monkeypatch):
    from dfr_monitoring import render, settings

    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / render.RULES_NAME).write_text("expr: up > ${ALERT_NO_SUCH_THING}\n")
    monkeypatch.setattr(render, "SHARE", tmp_path)
    with pytest.raises(settings.SettingError, match="ALERT_NO_SUCH_THING"):
        render.rules_text(settings.load({}))


def test_every_setting_reaches_its_container_and_is_documented():
    from dfr_monitoring import settings

    passed = set()
    for layer in (ROOT / "monitoring.yaml", MONITORING / "compose" / "mailcatcher.yaml"):
        for service in yaml.safe_load(layer.read_text())["services"].values():
            passed.update(service.get("environment") or {})
    readme = (MONITORING / "README.md").read_text()
    for setting in settings.SETTINGS:
        assert setting.name in passed, f"{setting.name} is not passed by any compose service"
        assert f"`{setting.name}`" in readme and setting.default in readme, f"{setting.name} missing in README"
