"""The sandbox role's stored password: a SCRAM-SHA-256 verifier PostgreSQL accepts, from which the
password cannot be read back (checked against RFC 5802's definitions, not against our own code)."""
import base64
import hashlib
import hmac
import re

from dfr_deploy.backup.restore.sandbox import scram_verifier


def test_the_verifier_proves_the_password_and_hides_it():
    verifier = scram_verifier("correct horse", iterations=4096)
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)", verifier)
    assert match, verifier
    iterations, salt, stored, server = int(match[1]), *(base64.b64decode(g) for g in match.groups()[1:])
    assert iterations == 4096 and len(salt) == 16
    for password, expected in (("correct horse", True), ("wrong horse", False)):
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        assert (hashlib.sha256(client_key).digest() == stored) is expected
        assert (hmac.new(salted, b"Server Key", hashlib.sha256).digest() == server) is expected
    assert "correct" not in verifier
    assert scram_verifier("correct horse") != verifier, "a new salt every time"
