"""Issue 14: the monitoring layer on a server stack (staging without an SMTP relay: the mail
catcher gets the alerts), real services only. Every target up;
stopping the database fires PostgresDown whose mail reaches the catcher, and resolves; an
unwritable WAL archive and a failed backup alert; Odoo's SMTP settings reach the catcher; the
overview page is drawn in headless Chromium. Short scrape/evaluation intervals here only.
"""
import base64
import json
import os
import re
import secrets as random_source
import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from dfr_deploy.docker import docker, legacy_build_env
from dfr_deploy.stack import services as stack_services
from .conftest import ROOT, docker_out, free_port
from .http import request, wait_until

SERVICES = ("prometheus", "alertmanager", "postgres-exporter", "nginx-exporter", "node-exporter",
            "blackbox-exporter", "mtail", "mailcatcher")
JOBS = {"prometheus", "alertmanager", "postgres", "nginx", "node", "mtail", "blackbox", "odoo_health"}
CHROMIUM = "dfr-test/chromium:latest"
ARTIFACTS = Path(os.environ.get("DFR_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "monitoring"
FAST = {  # test-only speed: scrape and evaluate every 2 s, alert after seconds, mail at once
    "PROMETHEUS_SCRAPE_INTERVAL": "2s", "PROMETHEUS_EVALUATION_INTERVAL": "2s", "MONITORING_HEALTH_INTERVAL": "2s",
    # OdooDown later than PostgresDown (as by default), so that the inhibition can work
    "ALERT_POSTGRES_DOWN_FOR": "4s", "ALERT_ODOO_DOWN_FOR": "12s", "ALERTMANAGER_GROUP_WAIT": "1s",
    "ALERTMANAGER_GROUP_INTERVAL": "4s", "ALERT_EMAIL_TO": "ops@example.org",
}


class Monitored:
    def __init__(self, s, metrics, password):
        self.s, self.metrics, self.password, self.timings = s, metrics, password, {}
        self.port = int(s.env.get("MONITORING_HTTPS_PORT"))

    def get(self, path, method="GET", password=None):
        auth = base64.b64encode(f"dfr:{password or self.password}".encode()).decode()
        return request(self.port, path, method=method, headers={"Authorization": f"Basic {auth}"})

    def api(self, path):
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def query(self, expr):
        return self.api("/prometheus/api/v1/query?query=" + urllib.parse.quote(expr))["data"]["result"]

    def alerts(self, name):
        return [a for a in self.api("/alertmanager/api/v2/alerts") if a["labels"]["alertname"] == name]

    def active(self, name):
        return [a for a in self.alerts(name) if a["status"]["state"] == "active"]

    def mails(self, *words):
        return [m for m in self.api("/mail/api/messages") if all(w in m["subject"] for w in words)]

    def write_metrics(self, name, lines):
        """A textfile-collector file written atomically, as the backup jobs write theirs."""
        labels = f'environment="{self.s.env.name}",project="{self.s.env.project_name}"'
        text = "".join(f"{metric}{{{labels}{',' + extra if extra else ''}}} {value}\n" for metric, extra, value in lines)
        tmp = self.metrics / f".{name}.tmp"
        tmp.write_text(text)
        tmp.chmod(0o644)
        tmp.replace(self.metrics / name)


@pytest.fixture(scope="module")
def monitored(make_stack):
    # As the product deploys it: the layers (monitoring on by default, the catcher without a
    # relay), the secrets (`invoke secrets`), the exporter's role (deploy).
    s = make_stack("staging", IMAGE_TAG="prod", WORKERS="2", SMTP_SERVER="", MONITORING="true",
                   MONITORING_HTTPS_PORT=str(free_port()), **FAST)
    metrics = Path(s.env.overrides["METRICS_DIR"])
    try:
        s.deploy()
        assert set(SERVICES) <= set(s.env.services)
        stack_services.wait_healthy(s.env, SERVICES, 300, what=" (monitoring)")
        web_password = (s.env.secrets_dir / "monitoring_web_password").read_text().strip()
        yield Monitored(s, metrics, web_password)
    finally:
        s.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", retcode=None)


def test_layer_is_healthy_and_every_target_up(monitored):
    def all_up():
        targets = monitored.api("/prometheus/api/v1/targets")["data"]["activeTargets"]
        return {t["labels"]["job"] for t in targets} == JOBS and all(t["health"] == "up" for t in targets)

    wait_until(all_up, 120, what="every Prometheus target up")
    for expr in ("pg_up", "nginx_up", 'probe_success{job="odoo_health"}'):   # the role is new: a scrape or two
        wait_until(lambda: [r["value"][1] for r in monitored.query(expr)] == ["1"], 30, what=f"{expr} = 1")
    # mtail counts what nginx answers (at least the health probe's 200s)
    wait_until(lambda: monitored.query('dfr_http_requests_total{status="200"} > 0'), 60, what="mtail counting")
    assert monitored.query("pg_settings_max_connections") and monitored.query("pg_wal_archive_ready_segments")
    days_left = float(monitored.query('probe_ssl_earliest_cert_expiry{job="odoo_health"} - time()')[0]["value"][1])
    assert 700 * 86400 < days_left < 826 * 86400   # nginx's self-signed certificate: 825 days
    rules = [r for g in monitored.api("/prometheus/api/v1/rules")["data"]["groups"] for r in g["rules"]
             if r["type"] == "alerting"]
    assert len(rules) == 17 and all(r["health"] == "ok" for r in rules)


def test_hardened_and_reached_only_through_nginx_with_basic_auth(monitored):
    s = monitored.s
    secret_values = [monitored.password, (s.env.secrets_dir / "monitoring_db_password").read_text()]
    for service in SERVICES:
        info = json.loads(docker_out("inspect", s.container(service)))[0]
        host = info["HostConfig"]
        assert info["Config"]["User"] == "10190:10190", service
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"], service
        assert host["ReadonlyRootfs"] and "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["PidsLimit"] and host["Memory"], service
        assert not host["PortBindings"], f"{service} publishes a port"
        seen = json.dumps(info["Config"]["Env"]) + json.dumps(info["Args"]) + json.dumps(info["Config"]["Cmd"])
        assert not any(v in seen for v in secret_values), f"a secret in the env or argv of {service}"
        uids = [line.split()[1] for line in docker_out("top", s.container(service), "-eo", "pid,uid").splitlines()[1:]]
        assert uids and set(uids) == {"10190"}, (service, uids)
    assert monitored.get("/prometheus/-/ready", password="wrong")[0] == 401
    status, _, _ = request(monitored.port, "/alertmanager/api/v2/status")
    assert status == 401
    assert monitored.get("/prometheus/-/ready")[0] == 200
    assert monitored.get("/alertmanager/-/ready")[0] == 200


def test_stopping_db_fires_postgres_down_mails_the_catcher_and_resolves(monitored):
    s = monitored.s
    assert monitored.get("/mail/api/messages", method="DELETE")[0] == 200
    started = time.monotonic()
    s.compose("stop", "db")
    try:
        wait_until(lambda: monitored.active("PostgresDown"), 60, what="PostgresDown in Alertmanager")
        monitored.timings["alert"] = time.monotonic() - started
        mail = wait_until(lambda: monitored.mails("FIRING", "PostgresDown"), 60, what="the PostgresDown mail")[0]
        monitored.timings["mail"] = time.monotonic() - started
        assert mail["envelope_to"] == ["ops@example.org"]
        assert "What to do:" in mail["text"] and "invoke logs --env=staging --service=db" in mail["text"]
        assert s.env.project_name in mail["subject"]
        # Odoo's health fails too, but that alert is inhibited by PostgresDown: no second mail.
        odoo = wait_until(lambda: monitored.alerts("OdooDown"), 60, what="OdooDown in Alertmanager")[0]
        assert odoo["status"]["state"] == "suppressed" and odoo["status"]["inhibitedBy"], odoo["status"]
        assert not monitored.mails("OdooDown")
    finally:
        s.compose("start", "db")
    wait_until(lambda: not monitored.active("PostgresDown"), 90, what="PostgresDown resolved")
    wait_until(lambda: monitored.mails("RESOLVED", "PostgresDown"), 60, what="the RESOLVED mail")
    print(f"\ndocker stop db -> PostgresDown in Alertmanager {monitored.timings['alert']:.1f} s, "
          f"mail in the catcher {monitored.timings['mail']:.1f} s (test intervals)")
    assert monitored.timings["alert"] <= 60


def test_unwritable_wal_archive_fires_wal_archive_failing(monitored):
    s = monitored.s
    stack_services.wait_healthy(s.env, ("db",), 120)
    s.compose("exec", "-T", "-u", "root", "db", "chmod", "0500", "/wal_archive")
    try:
        s.exec_db("SET ROLE odoo; CREATE TABLE IF NOT EXISTS dfrh3_wal_probe (n int); INSERT INTO dfrh3_wal_probe VALUES (1)")
        s.exec_db("SELECT pg_switch_wal()")
        wait_until(lambda: monitored.active("WALArchiveFailing"), 60, what="WALArchiveFailing")
        assert float(monitored.query("pg_stat_archiver_failed_count")[0]["value"][1]) > 0
    finally:
        s.compose("exec", "-T", "-u", "root", "db", "chmod", "0700", "/wal_archive")
    # writable again: the next segment and the failed one are archived, and the age is fresh
    s.exec_db("INSERT INTO dfrh3_wal_probe VALUES (2)")
    s.exec_db("SELECT pg_switch_wal()")
    wait_until(lambda: monitored.query("pg_stat_archiver_last_archive_age < 60"), 90, what="archiving again")


def test_backup_metrics_reach_prometheus_and_a_failed_backup_alerts(monitored):
    """A real `invoke backup` writes its metrics, Prometheus reads them; a real failed backup
    (another operation holds the lock) fires BackupFailed and its mail."""
    from dfr_deploy.backup import lock, manifest, settings

    from .backup_helpers import invoke, sets_of

    result = invoke(monitored.s, "backup")
    assert result.returncode == 0, result.stderr
    started = int(manifest.parse_time(manifest.load(sets_of(monitored.s)[-1])["started_at"]).timestamp())
    wait_until(lambda: monitored.query(f'floor(dfr_backup_last_good_timestamp_seconds{{kind="logical"}}) == {started}'),
               30, what="the good backup's metrics in Prometheus")
    assert monitored.query('dfr_job_last_result{job="backup"} == 1')
    assert monitored.query('dfr_backup_sets{kind="logical"} == 1')
    now = int(time.time())
    monitored.write_metrics("dfr_drills.prom", [
        ("dfr_drill_last_timestamp_seconds", 'kind="logical"', now - 600),
        ("dfr_drill_last_result", 'kind="logical"', 1), ("dfr_drill_last_rto_seconds", 'kind="logical"', 42)])
    wait_until(lambda: monitored.query('dfr_drill_last_rto_seconds{kind="logical"} == 42'), 30, what="drill metrics")
    assert not monitored.alerts("BackupFailed") and not monitored.alerts("BackupMissing")

    with lock.held(settings.backup_dir(monitored.s.env), "restore", monitored.s.env.name):
        failed = invoke(monitored.s, "backup")
    assert failed.returncode == 1 and "another backup operation" in failed.stderr
    alert = wait_until(lambda: monitored.active("BackupFailed"), 60, what="BackupFailed")[0]
    assert alert["labels"]["job"] == "backup" and alert["labels"]["environment"] == "staging"
    wait_until(lambda: monitored.mails("FIRING", "BackupFailed"), 60, what="the BackupFailed mail")


def test_mail_sent_with_odoo_smtp_settings_arrives_in_the_catcher(monitored):
    subject = f"dfrh3 odoo mail {random_source.token_hex(4)}"
    out = monitored.s.compose("exec", "-T", "-u", "1000", "odoo", "dfr-test-mail", "farmer@example.org", subject)[1]
    assert "through mailcatcher:1025" in out, out
    mail = wait_until(lambda: monitored.mails(subject), 30, what="Odoo's mail in the catcher")[0]
    assert mail["envelope_to"] == ["farmer@example.org"]


def test_overview_page_drawn_in_headless_chromium(monitored, tmp_path):
    docker()["build", "--pull=false", "-q", "-t", CHROMIUM, "-f", str(ROOT / "monitoring/testing/chromium.Dockerfile"),
             str(ROOT / "monitoring/testing")].with_env(**legacy_build_env()).run(timeout=1200)
    shots = tmp_path / "shots"
    shots.mkdir()
    shots.chmod(0o777)   # written by Chromium's uid 10191
    url = 'http://prometheus:9090/prometheus/consoles/dfr-overview.html#pctc{"duration":900,"endTime":0}'
    run = ["run", "--rm", "--network", f"{monitored.s.env.project_name}_monitoring", "--read-only",
           "--tmpfs", "/tmp", "--tmpfs", "/home/shot:uid=10191,gid=10191", "--cap-drop", "ALL",
           "--security-opt", "no-new-privileges:true", "--memory", "1g", "-v", f"{shots}:/shots", CHROMIUM,
           "--window-size=1400,2300", "--virtual-time-budget=20000"]
    dom = docker()[run + ["--dump-dom", url]].run(timeout=180)[1]
    docker()[run + ["--screenshot=/shots/overview.png", url]].run(timeout=180)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = shutil.copy(shots / "overview.png", ARTIFACTS / "overview.png")
    (ARTIFACTS / "overview.html").write_text(dom)
    data = Path(png).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000, len(data)
    assert "DFR overview" in dom and monitored.s.env.project_name in dom
    for graph in ("g-requests", "g-errors", "g-latency", "g-connections", "g-wal", "g-backup", "g-drill",
                  "g-disk", "g-cert"):
        section = dom.split(f'id="{graph}"', 1)[1].split('class="col-md-6', 1)[0]
        lines = [p for p in re.findall(r"<path [^>]*>", section) if 'class="domain"' not in p]
        assert any(re.search(r'\bd="M[^"]*L', p) for p in lines), f"graph {graph} has no line drawn"
        assert "No timeseries" not in section and "Error loading" not in section, graph
    assert "BackupFailed" in dom   # the alerts firing now


def test_layer_memory_at_rest(monitored):
    ids = [monitored.s.container(service) for service in SERVICES]
    rows = docker_out("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}}", *ids).splitlines()
    units = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
    total_mib = total_cpu = 0.0
    for row in rows:
        _, cpu, used = row.split()[:3]
        number = used.rstrip("KMGiB")
        total_mib += float(number) * units[used[len(number):]]
        total_cpu += float(cpu.rstrip("%"))
    print(f"\nmonitoring layer: {total_mib:.0f} MiB, {total_cpu:.1f} % CPU (2 s scrapes)\n" + "\n".join(rows))
    assert len(rows) == len(SERVICES) and total_mib < 300
