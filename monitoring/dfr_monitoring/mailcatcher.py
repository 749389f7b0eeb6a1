"""Mail catcher: accepts every SMTP message and relays none; shows them on a page and a JSON API.

Devel (and staging without a relay) send Odoo's and Alertmanager's mail here, so no mail from a
copy of the registry can reach a farmer. Messages live in memory only (gone at restart), newest
kept, at most MAILCATCHER_MAX_TOTAL_BYTES in all. Everything shown is escaped text: an HTML mail
is never rendered, so a hostile message cannot run script in the operator's browser.

  SMTP  :1025   any sender, any recipient, no auth, no TLS (internal networks only)
  HTTP  :8025   /  (list)   /message/<id>   /api/messages   /api/messages/<id>
                /api/messages/<id>/raw   DELETE /api/messages   /healthz
"""
import email
import email.policy
import html
import json
import re
import signal
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEXT_LIMIT = 200_000
ITEM = re.compile(r"^/(?:api/messages|message)/([0-9]{1,9})(/raw)?$")
HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class Store:
    """The caught messages, oldest first, bounded by total size."""

    def __init__(self, max_total):
        self.max_total = max_total
        self.lock = threading.Lock()
        self.items = OrderedDict()
        self.total = 0
        self.next_id = 1

    def add(self, mail_from, rcpt_tos, raw):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        item = {
            "received": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "envelope_from": mail_from, "envelope_to": list(rcpt_tos),
            "from": str(message.get("From", "")), "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")), "size": len(raw), "text": body_text(message),
        }
        with self.lock:
            item["id"] = self.next_id
            self.next_id += 1
            self.items[item["id"]] = (item, raw)
            self.total += len(raw)
            while self.total > self.max_total and len(self.items) > 1:
                _, (_, dropped) = self.items.popitem(last=False)
                self.total -= len(dropped)
        return item["id"]

    def newest_first(self):
        with self.lock:
            return [item for item, _ in reversed(self.items.values())]

    def get(self, number):
        with self.lock:
            return self.items.get(number)

    def clear(self):
        with self.lock:
            self.items.clear()
            self.total = 0


def body_text(message):
    """The plain-text body (or the HTML one with its tags removed), at most TEXT_LIMIT chars."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
        if part is not None and part.get_content_type() == "text/html":
            text = html.unescape(re.sub(r"<[^>]*>", " ", re.sub(r"(?is)<(script|style).*?</\1>", " ", text)))
    except (LookupError, ValueError, AttributeError, TypeError):
        text = "(body not readable as text)"
    return text[:TEXT_LIMIT]


class Handler:
    """aiosmtpd handler: keep the message, tell the sender it was delivered."""

    def __init__(self, store):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        number = self.store.add(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content)
        print(f"mailcatcher: caught message {number} for {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 Message accepted for delivery (caught, not relayed)"


def page(title, body):
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font:14px sans-serif;margin:1em 2em}td,th{padding:.2em .6em;text-align:left}"
            "tr:nth-child(even){background:#f3f3f3}pre{white-space:pre-wrap;background:#f7f7f7;padding:1em}"
            f"</style></head><body>{body}</body></html>")


def list_page(items):
    rows = "".join(
        f"<tr><td><a href='message/{i['id']}'>{i['id']}</a></td><td>{html.escape(i['received'])}</td>"
        f"<td>{html.escape(i['from'] or i['envelope_from'])}</td><td>{html.escape(', '.join(i['envelope_to']))}</td>"
        f"<td><a href='message/{i['id']}'>{html.escape(i['subject']) or '(no subject)'}</a></td></tr>"
        for i in items)
    return page("Mail catcher", "<h1>Mail catcher</h1><p>Mail sent by this copy of the registry. "
                "Nothing here left the host. Newest first; kept in memory until restart.</p>"
                "<table><tr><th>#</th><th>received (UTC)</th><th>from</th><th>to</th><th>subject</th></tr>"
                f"{rows or '<tr><td colspan=5>no mail caught yet</td></tr>'}</table>")


def message_page(item):
    fields = "".join(f"<tr><th>{name}</th><td>{html.escape(str(value))}</td></tr>" for name, value in (
        ("received", item["received"]), ("from", item["from"]), ("to", item["to"]),
        ("envelope", f"{item['envelope_from']} -> {', '.join(item['envelope_to'])}"),
        ("subject", item["subject"]), ("size", f"{item['size']} bytes")))
    return page(item["subject"] or "message", f"<p><a href='../'>all messages</a> · "
                f"<a href='../api/messages/{item['id']}/raw'>source</a></p><table>{fields}</table>"
                f"<pre>{html.escape(item['text'])}</pre>")


def web_handler(store):
    class Web(BaseHTTPRequestHandler):
        server_version = "dfr-mailcatcher"
        sys_version = ""

        def log_message(self, *args):  # the list is polled: no access log
            pass

        def send(self, status, body, content_type):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def json(self, status, value):
            self.send(status, json.dumps(value, indent=1), "application/json")

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                return self.send(200, "ok\n", "text/plain; charset=utf-8")
            if path in ("/", "/index.html"):
                return self.send(200, list_page(store.newest_first()), "text/html; charset=utf-8")
            if path == "/api/messages":
                return self.json(200, store.newest_first())
            match = ITEM.match(path)
            found = store.get(int(match.group(1))) if match else None
            if not found:
                return self.json(404, {"error": "no such message"})
            item, raw = found
            if match.group(2):
                return self.send(200, raw, "text/plain; charset=utf-8")
            if path.startswith("/api/"):
                return self.json(200, item)
            return self.send(200, message_page(item), "text/html; charset=utf-8")

        do_HEAD = do_GET

        def do_DELETE(self):
            if self.path.split("?", 1)[0] != "/api/messages":
                return self.json(404, {"error": "DELETE /api/messages only"})
            store.clear()
            return self.json(200, {"deleted": True})

    return Web


def main(values):
    from aiosmtpd.controller import Controller  # Debian's python3-aiosmtpd

    store = Store(int(values["MAILCATCHER_MAX_TOTAL_BYTES"]))
    smtp = Controller(Handler(store), hostname="0.0.0.0", port=1025, server_hostname="mailcatcher",
                      data_size_limit=int(values["MAILCATCHER_MAX_MESSAGE_BYTES"]))
    smtp.start()
    web = ThreadingHTTPServer(("0.0.0.0", 8025), web_handler(store))
    web.daemon_threads = True
    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=web.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("mailcatcher: SMTP on :1025, web page and API on :8025 (nothing is relayed)", flush=True)
    started = time.monotonic()
    web.serve_forever(poll_interval=1.0)
    smtp.stop()
    print(f"mailcatcher: stopped after {time.monotonic() - started:.0f} s", flush=True)
    return 0
