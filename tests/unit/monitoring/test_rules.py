"""Alert rules of issue 14: the exact list in one file, each saying what to do, each tested by
promtool with a case that fires and one that must not - and those cases fail when a threshold
moves, so they really pin the rules down."""
import pytest
import yaml

from .conftest import MONITORING, run_tool

ISSUE_14 = {"PostgresDown", "OdooDown", "NginxDown", "MonitoringTargetDown", "HighErrorRate", "SlowResponses",
            "TooManyConnections", "WALArchiveFailing", "WALArchiveLagging", "BackupMissing", "BaseBackupMissing",
            "BackupFailed", "DrillMissing", "DrillFailed", "DiskAlmostFull", "CertificateExpiring"}


def alert_rules(environ=None):
    from dfr_monitoring import render, settings

    rules = yaml.safe_load(render.rules_text(settings.load(environ or {})))
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def test_one_file_holds_exactly_the_rules_of_issue_14():
    assert {rule["alert"] for rule in alert_rules()} == ISSUE_14
    rule_files = [p.name for p in (MONITORING / "prometheus").glob("*.yml") if not p.name.endswith(".test.yml")]
    assert sorted(rule_files) == ["dfr-alerts.yml", "postgres-queries.yml"]   # the other is the exporter's query


def test_every_rule_has_a_severity_and_one_line_saying_what_to_do():
    rules = alert_rules({"DFR_ENV": "prod"})
    for rule in rules:
        notes = rule["annotations"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert notes["summary"] and "\n" not in notes["description"], rule["alert"]
        # names the environment: `invoke ... --env=prod` or config/prod.env
        assert len(notes["description"]) > 60 and ("--env=prod" in notes["description"] or "config/prod.env" in notes["description"]), rule["alert"]
    assert {r["labels"]["severity"] for r in rules if r["alert"] == "CertificateExpiring"} == {"warning", "critical"}


def test_every_alert_has_a_case_that_fires_and_one_that_must_not():
    outcomes, severities = {}, set()
    for path in sorted((MONITORING / "prometheus").glob("*.test.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test["alert_rule_test"]:
                outcomes.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
                severities.update((case["alertname"], a["exp_labels"]["severity"]) for a in case["exp_alerts"])
    assert set(outcomes) == ISSUE_14
    assert all(outcomes[name] == {True, False} for name in ISSUE_14), outcomes
    assert {("CertificateExpiring", "warning"), ("CertificateExpiring", "critical")} <= severities


def test_promtool_runs_every_case(image):
    result = run_tool(image, "test-rules")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2 and "FAILED" not in result.stdout


@pytest.mark.parametrize("setting, value", [
    ("ALERT_DISK_FREE_RATIO", "0.6"),        # the 50 %-free case must now fire
    ("ALERT_POSTGRES_DOWN_FOR", "5m"),       # the 2-minute outage must not fire yet
    ("ALERT_HTTP_5XX_RATIO", "0.5"),         # one request in six failing is no longer enough
    ("ALERT_WAL_LAG_MARGIN_SECONDS", "50"),  # the recent archive (400 s) becomes a lag
])
def test_the_cases_fail_when_a_threshold_moves(image, setting, value):
    result = run_tool(image, "test-rules", env={setting: value})
    assert result.returncode != 0 and "FAILED" in result.stdout, result.stdout[-2000:]
