"""What each service of the layer runs: the Debian binary and its arguments.

One image, one command per service (`dfr-monitoring prometheus`, `... mtail`, ...): configs are
rendered into the container's tmpfs first, then the binary replaces this process (exec), so it
is PID 1 and gets docker's stop signal itself. Ports are fixed inside the containers; only
compose decides what is reachable from where.
"""
import os
from pathlib import Path

from . import render
from .settings import SettingError

RUN = Path(os.environ.get("DFR_MONITORING_RUN", "/run/dfr-monitoring"))
DATA = Path("/var/lib/dfr-monitoring")
MTAIL_SOCKET = Path("/run/dfr-mtail/nginx.sock")
TEXTFILE_DIR = "/srv/metrics"
# node_exporter: only the mounts the layer gave it (/srv/dfr/*); not /etc/hosts & co, and not the
# textfile folder (it is not a disk to watch).
NODE_MOUNTS_EXCLUDE = "^/(dev|proc|run|sys|mnt|media|etc|srv/metrics)($|/)"


def prometheus(values):
    paths = render.render_all(values, RUN)
    return ["/usr/bin/prometheus",
            f"--config.file={paths['prometheus']}",
            f"--storage.tsdb.path={DATA / 'prometheus'}",
            f"--storage.tsdb.retention.time={values['PROMETHEUS_RETENTION_TIME']}",
            f"--storage.tsdb.retention.size={values['PROMETHEUS_RETENTION_SIZE']}",
            "--web.listen-address=:9090",
            "--web.route-prefix=/prometheus",
            f"--web.external-url={values['PROMETHEUS_EXTERNAL_URL']}",
            f"--web.console.templates={render.SHARE / 'consoles'}",
            f"--web.console.libraries={render.SHARE / 'console_libraries'}",
            "--web.page-title=DFR monitoring"]


def alertmanager(values):
    paths = render.render_all(values, RUN)
    if not values["ALERT_EMAIL_TO"] and not values["ALERT_WEBHOOK_URL"]:
        print("dfr-monitoring: WARNING: neither ALERT_EMAIL_TO (or ADMIN_EMAIL) nor ALERT_WEBHOOK_URL is set: "
              "alerts are only shown, never sent", flush=True)
    if values["DFR_ENV"] == "prod" and not values["SMTP_SERVER"]:
        print("dfr-monitoring: WARNING: SMTP_SERVER is empty in prod: alert mail goes to "
              f"{values['MAILCATCHER_ADDRESS']}, not to a person; set SMTP_SERVER in config/prod.env", flush=True)
    return ["/usr/bin/prometheus-alertmanager",
            f"--config.file={paths['alertmanager']}",
            f"--storage.path={DATA / 'alertmanager'}",
            "--web.listen-address=:9093",
            "--web.route-prefix=/alertmanager",
            f"--web.external-url={values['ALERTMANAGER_EXTERNAL_URL']}",
            "--cluster.listen-address="]  # one instance: no gossip port


def postgres_exporter(values):
    # Connection from DATA_SOURCE_URI/_USER and the password from DATA_SOURCE_PASS_FILE (a
    # compose secret): the exporter reads the file, so no password is in env or argv.
    pass_file = os.environ.get("DATA_SOURCE_PASS_FILE", "")
    if not pass_file:
        raise SettingError("DATA_SOURCE_PASS_FILE is not set: the postgres-exporter service of monitoring.yaml sets it")
    try:
        present = bool(Path(pass_file).read_text().strip())
    except OSError as error:
        raise SettingError(f"cannot read the monitoring role's password file {pass_file} ({error.strerror}): "
                           "run `invoke secrets` for this environment (the file must be readable, mode 0444)") from None
    if not present:
        raise SettingError(f"the monitoring role's password file {pass_file} is empty: run `invoke secrets`")
    return ["/usr/bin/prometheus-postgres-exporter",
            "--web.listen-address=:9187",
            # The built-in queries already read pg_stat_bgwriter and pg_stat_database; these two
            # collectors would open two more connections per scrape, each waiting for a database
            # that is down (a stopped db's name times out in DNS) - and a scrape that times out
            # loses pg_up, the very series PostgresDown watches.
            "--no-collector.bgwriter", "--no-collector.database",
            f"--extend.query-path={render.SHARE / 'prometheus' / 'postgres-queries.yml'}",
            "--log.level=warn"]


def nginx_exporter(values):
    return ["/usr/bin/prometheus-nginx-exporter",
            "-nginx.scrape-uri=http://nginx:8081/stub_status",
            # nginx may start after the exporter (or be restarting): keep trying instead of exiting.
            "-nginx.retries=120", "-nginx.retry-interval=5s",
            "-web.listen-address=:9113"]


def node_exporter(values):
    return ["/usr/bin/prometheus-node-exporter",
            "--web.listen-address=:9100",
            "--collector.disable-defaults",
            "--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.time",
            "--collector.filesystem", f"--collector.filesystem.mount-points-exclude={NODE_MOUNTS_EXCLUDE}",
            "--collector.textfile", f"--collector.textfile.directory={TEXTFILE_DIR}"]


def blackbox_exporter(values):
    paths = render.render_all(values, RUN)
    return ["/usr/bin/prometheus-blackbox-exporter",
            f"--config.file={paths['blackbox']}",
            "--web.listen-address=:9115",
            "--log.level=warn"]


def mtail(values):
    # nginx sends one datagram per request to this socket (syslog to unix:...). A socket left
    # by a previous run would make the bind fail; umask 0 lets nginx's workers (www-data) write
    # to it: only the containers mounting the socket volume can reach it at all.
    MTAIL_SOCKET.unlink(missing_ok=True)
    os.umask(0)
    return ["/usr/bin/mtail",
            "-progs", str(render.SHARE / "mtail"),
            "-logs", f"unixgram://{MTAIL_SOCKET}",
            "-port", "3903",
            "-logtostderr",
            "-emit_prog_label=false"]


SERVICES = {
    "prometheus": prometheus,
    "alertmanager": alertmanager,
    "postgres-exporter": postgres_exporter,
    "nginx-exporter": nginx_exporter,
    "node-exporter": node_exporter,
    "blackbox-exporter": blackbox_exporter,
    "mtail": mtail,
}
