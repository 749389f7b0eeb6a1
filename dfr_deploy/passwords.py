"""Passwords as PostgreSQL stores them: a role's password is given to the server as its
SCRAM-SHA-256 verifier, so the password itself never reaches the server, a statement log or an
argv (the restore sandbox's role, the monitoring role)."""
import base64
import hashlib
import hmac
import os


def scram_verifier(password, iterations=4096):
    """What PostgreSQL stores for a SCRAM-SHA-256 password: the password itself never reaches
    the server, a statement log or an argv."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}"
