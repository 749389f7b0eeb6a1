"""Small real clients for the tests: HTTPS requests, a websocket handshake, bounded waits."""
import base64
import hashlib
import http.client
import os
import socket
import ssl
import time

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def insecure_tls():
    """The test stacks use nginx's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


NAME = "localhost"   # the test stacks' DOMAIN: staging and prod answer no other name


class NamedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 that says `name` in its TLS handshake (SNI), as a browser would."""

    def __init__(self, port, name=NAME, **kwargs):
        super().__init__("127.0.0.1", port, context=insecure_tls(), **kwargs)
        self.name = name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.name)


def connection(port, tls=True, timeout=15, name=NAME):
    if tls:
        return NamedHTTPSConnection(port, name=name, timeout=timeout)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def request(port, path, method="GET", body=None, headers=None, tls=True, timeout=15, name=NAME):
    """One request to a stack's published port, for the site's name (Host and SNI) unless told."""
    conn = connection(port, tls, timeout, name)
    headers = {"Host": f"{name}:{port}", **(headers or {})}
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def upload_too_large(port, path, size, chunk=1 << 20):
    """POST `size` bytes; returns the status nginx answered (it may answer before the end)."""
    conn = connection(port, timeout=60)
    try:
        conn.putrequest("POST", path, skip_host=True)
        conn.putheader("Host", f"{NAME}:{port}")
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        block = b"\0" * chunk
        sent = 0
        try:
            while sent < size:
                conn.send(block[: min(chunk, size - sent)])
                sent += chunk
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # nginx refused the body early, as it should; read its answer
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def websocket_handshake(port, path="/websocket", origin=True, tls=True, host=None):
    """Open a websocket; returns (status, headers, echo of a text frame or None)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = insecure_tls().wrap_socket(raw, server_hostname=NAME) if tls else raw
    key = base64.b64encode(os.urandom(16)).decode()
    host = host or f"{NAME}:{port}"
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {'https' if tls else 'http'}://{host}")
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if ":" in h)}
        echo = None
        if status == 101:
            expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            assert headers.get("sec-websocket-accept") == expected, headers
            echo = _echo(sock, b"hello farmer registry", rest)
        return status, headers, echo
    finally:
        sock.close()


def _echo(sock, payload, pending):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    data = pending
    deadline = time.monotonic() + 10
    while len(data) < 2 + len(payload) and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    if len(data) < 2:
        return None
    length = data[1] & 0x7F
    return data[2:2 + length]


def wait_until(predicate, timeout, interval=1.0, what="condition"):
    """Poll `predicate` until truthy; bounded in time. Returns its value or raises."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - services restarting raise all sorts
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error})")
