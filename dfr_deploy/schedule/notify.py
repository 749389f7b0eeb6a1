"""Telling a person that a job failed: a mail through the environment's SMTP relay to
ALERT_EMAIL_TO (else ADMIN_EMAIL), and a JSON POST to ALERT_WEBHOOK_URL when it is set. Standard library clients; the
relay's password comes from the smtp_password secret, never from an argument."""
import json
import smtplib
import socket
import ssl
import urllib.request
from email.message import EmailMessage

from .. import secrets
from ..errors import DfrError
from ..progress import say


def recipient(env):
    """Who is told: ALERT_EMAIL_TO (the alerts' address), else the team's ADMIN_EMAIL."""
    return env.get("ALERT_EMAIL_TO", "") or env.get("ADMIN_EMAIL", "")


def channels(env):
    found = []
    if env.get("SMTP_SERVER", "") and recipient(env):
        found.append("mail")
    if env.get("ALERT_WEBHOOK_URL", ""):
        found.append("webhook")
    return found


def mail(env, subject, body):
    message = EmailMessage()
    message["From"] = env.get("EMAIL_FROM", "") or f"dfr@{env.get('DOMAIN', socket.gethostname())}"
    message["To"] = recipient(env)
    message["Subject"] = subject
    message.set_content(body)
    host, port = env.get("SMTP_SERVER"), int(env.get("SMTP_PORT", "25"))
    use_ssl = env.get("SMTP_SSL", "False").lower() in ("true", "1", "yes")
    client = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context()) if use_ssl else \
        smtplib.SMTP(host, port, timeout=30)
    with client:
        if not use_ssl and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
        user = env.get("SMTP_USER", "")
        if user:
            client.login(user, secrets.read(env, "smtp_password"))
        client.send_message(message)


def webhook(env, subject, body):
    data = json.dumps({"project": env.project_name, "environment": env.name, "title": subject,
                       "text": body}).encode()
    request = urllib.request.Request(env.get("ALERT_WEBHOOK_URL"), data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def failure(env, job, message):
    """Send the failure of `job` on every channel; returns the channels that took it. One that
    fails is reported here (the job's own failure is already on its way to the log)."""
    subject = f"[DFR {env.project_name}] {job} FAILED"
    body = (f"The {job} job of {env.project_name} ({env.name}) failed on {socket.gethostname()}:\n\n{message}\n\n"
            f"See `invoke status --env={env.name}` and the job's log (journalctl -u {env.project_name}-{job}, "
            f"or /var/log/dfr/{env.project_name}-{job}.log).\n")
    sent = []
    for name, send in (("mail", mail), ("webhook", webhook)):
        if name not in channels(env):
            continue
        try:
            send(env, subject, body)
            sent.append(name)
        except (OSError, smtplib.SMTPException, DfrError) as error:
            say(f"could not send the failure of {job} by {name}: {error}")
    if not channels(env):
        say(f"nobody was told that {job} failed: set SMTP_SERVER and ALERT_EMAIL_TO (or ALERT_WEBHOOK_URL) "
            f"in config/{env.name}.env")
    return sent
