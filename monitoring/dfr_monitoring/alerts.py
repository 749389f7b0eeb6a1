"""`dfr-monitoring alerts [--json]`: the alerts firing now, from the local Alertmanager.

For `invoke status` (run with `docker compose exec alertmanager dfr-monitoring alerts`): one line
per alert, critical first; silenced and inhibited alerts are left out (someone already knows,
or a cause is alerting). Exit 0 with no alert firing, 1 with some, 2 when Alertmanager does not
answer.
"""
import json
import sys
import urllib.error
import urllib.request

API = "http://127.0.0.1:9093/alertmanager/api/v2/alerts?active=true&silenced=false&inhibited=false"
ORDER = {"critical": 0, "warning": 1}


def firing(url=API):
    with urllib.request.urlopen(url, timeout=10) as response:
        alerts = json.load(response)
    alerts = [a for a in alerts if a.get("status", {}).get("state") == "active"]
    return sorted(alerts, key=lambda a: (ORDER.get(a["labels"].get("severity"), 2), a["labels"].get("alertname", "")))


def line(alert):
    labels, notes = alert["labels"], alert.get("annotations", {})
    return (f"{labels.get('severity', '-').upper():8} {labels.get('alertname', '?')} since "
            f"{alert.get('startsAt', '?')[:19].replace('T', ' ')} UTC: {notes.get('summary', '')}")


def main(args):
    try:
        alerts = firing()
    except (urllib.error.URLError, OSError, ValueError) as error:
        print(f"dfr-monitoring: Alertmanager does not answer ({error}): is the alertmanager service up?",
              file=sys.stderr)
        return 2
    if args == ["--json"]:
        print(json.dumps([{"labels": a["labels"], "annotations": a.get("annotations", {}),
                           "startsAt": a.get("startsAt")} for a in alerts], indent=1))
    else:
        print("\n".join(line(a) for a in alerts) if alerts else "no alert firing")
    return 1 if alerts else 0
