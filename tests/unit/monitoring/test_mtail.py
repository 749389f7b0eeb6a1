"""mtail's program reads exactly what nginx sends: lines in the log format of
monitoring/nginx/metrics.conf.template, as nginx's syslog writes them, become request counts by
status, a request-time histogram and bytes; anything else is ignored."""
import re

from .conftest import MONITORING, run_tool

SAMPLES = [("200", "0.012", "5123"), ("200", "0.300", "880"), ("502", "4.001", "150")]


def nginx_line(status, request_time, sent):
    """One datagram as nginx sends it: syslog header + the template's log_format with values."""
    template = (MONITORING / "nginx" / "metrics.conf.template").read_text()
    log_format = re.search(r"log_format dfr_metrics '([^']*)';", template).group(1)
    assert log_format.endswith("\\n")   # mtail only counts a line once its newline arrives
    body = (log_format[:-2].replace("$status", status).replace("$request_time", request_time)
            .replace("$bytes_sent", sent))
    return f"<190>Nov 29 19:47:59 nginx: {body}\n"


def test_requests_status_and_latency_from_nginx_lines(image, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    logs.chmod(0o755)
    text = "".join(nginx_line(*s) for s in SAMPLES) + "<190>Nov 29 19:48:00 nginx: something else entirely\n"
    (logs / "access.log").write_text(text)
    (logs / "access.log").chmod(0o644)
    result = run_tool(image, "-one_shot", "-one_shot_format", "prometheus", "-emit_prog_label=false",
                      "-progs", "/usr/local/share/dfr-monitoring/mtail", "-logs", "/logs/access.log",
                      entrypoint="mtail", volumes=[(logs, "/logs")])
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = {}
    for line in result.stdout.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            metrics[name] = float(value)
    assert metrics['dfr_http_requests_total{status="200"}'] == 2
    assert metrics['dfr_http_requests_total{status="502"}'] == 1
    assert metrics["dfr_http_request_duration_seconds_count"] == 3
    assert abs(metrics["dfr_http_request_duration_seconds_sum"] - 4.313) < 1e-6
    assert metrics['dfr_http_request_duration_seconds_bucket{le="0.025"}'] == 1
    assert metrics['dfr_http_request_duration_seconds_bucket{le="0.5"}'] == 2
    assert metrics['dfr_http_request_duration_seconds_bucket{le="5"}'] == 3
    assert metrics["dfr_http_response_bytes_total"] == 5123 + 880 + 150
