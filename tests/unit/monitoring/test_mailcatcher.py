"""The mail catcher, running as the layer runs it (read-only, no capability, non-root): every
message is accepted and relayed nowhere, listed on its page and its JSON API, shown as escaped
text only, refused when too big, and memory stays bounded (oldest dropped)."""
import http.client
import json
import secrets
import smtplib
import time
from email.message import EmailMessage

import pytest

from .conftest import PREFIX, docker


class Catcher:
    def __init__(self, name):
        self.name = name
        self.smtp_port = int(docker("port", name, "1025").stdout.split(":")[-1])
        self.web_port = int(docker("port", name, "8025").stdout.split(":")[-1])

    def get(self, path, method="GET"):
        conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            conn.close()

    def messages(self):
        return json.loads(self.get("/api/messages")[2])

    def send(self, message, to=("farmer@example.org",)):
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message, from_addr="odoo@registry.example.org", to_addrs=list(to))


@pytest.fixture(scope="module")
def catcher(image):
    name = f"{PREFIX}-mailcatcher-{secrets.token_hex(3)}"
    started = docker("run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                     "--security-opt", "no-new-privileges:true", "--memory", "128m", "--pids-limit", "32",
                     "-e", "MAILCATCHER_MAX_MESSAGE_BYTES=200000", "-e", "MAILCATCHER_MAX_TOTAL_BYTES=600000",
                     "-p", "127.0.0.1::1025", "-p", "127.0.0.1::8025", image, "mailcatcher")
    assert started.returncode == 0, started.stderr
    try:
        catcher = Catcher(name)
        deadline = time.monotonic() + 30
        while True:
            try:
                if catcher.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, docker("logs", name).stderr
            time.sleep(0.3)
        yield catcher
    finally:
        docker("rm", "-f", name)


def mail(subject, text, html=None, size=0):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "odoo@registry.example.org", "farmer@example.org", subject
    message.set_content(text + "x" * size)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def test_a_message_is_caught_listed_and_shown_as_escaped_text(catcher):
    catcher.get("/api/messages", method="DELETE")
    hostile = "<script>alert('farmer')</script><b>bold</b>"
    catcher.send(mail(f"Invoice {hostile}", "Dear farmer, plain text.", html=f"<p>{hostile} html part</p>"))
    (item,) = catcher.messages()
    assert item["subject"] == f"Invoice {hostile}" and item["envelope_to"] == ["farmer@example.org"]
    assert item["envelope_from"] == "odoo@registry.example.org" and "plain text" in item["text"]
    for path in ("/", f"/message/{item['id']}"):
        status, headers, page = catcher.get(path)
        assert status == 200 and "<script>" not in page and "&lt;script&gt;" in page
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "Dear farmer" in catcher.get(f"/message/{item['id']}")[2]
    status, headers, raw = catcher.get(f"/api/messages/{item['id']}/raw")
    assert status == 200 and headers["Content-Type"].startswith("text/plain") and "html part" in raw
    assert catcher.get("/api/messages/999999")[0] == 404


def test_an_html_only_mail_is_shown_without_its_markup(catcher):
    catcher.get("/api/messages", method="DELETE")
    message = EmailMessage()
    message["Subject"] = "html only"
    message.set_content("<html><style>p{}</style><p>Your <i>parcel</i> &amp; crops</p></html>", subtype="html")
    catcher.send(message)
    text = catcher.messages()[0]["text"]
    assert "parcel" in text and "& crops" in text and "<i>" not in text and "p{}" not in text


def test_too_big_is_refused_and_memory_stays_bounded(catcher):
    catcher.get("/api/messages", method="DELETE")
    with pytest.raises(smtplib.SMTPException) as refused:
        catcher.send(mail("too big", "", size=300_000))
    assert "552" in str(refused.value) or getattr(refused.value, "smtp_code", 0) == 552
    for number in range(6):
        catcher.send(mail(f"bulk {number}", "", size=150_000))
    subjects = [m["subject"] for m in catcher.messages()]
    assert subjects[0] == "bulk 5" and "bulk 0" not in subjects and len(subjects) <= 4
    assert catcher.get("/api/messages", method="DELETE")[0] == 200 and catcher.messages() == []


def test_runs_as_the_monitoring_user(catcher):
    top = docker("top", catcher.name, "-eo", "pid,uid").stdout.splitlines()[1:]
    assert top and {line.split()[1] for line in top} == {"10190"}
