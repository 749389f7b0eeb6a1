"""The login role of postgres-exporter: pg_monitor and nothing else.

`role_sql(password)` is the SQL the deploy runs as the superuser (psql in the db container, on
stdin): it creates or updates the role, idempotent. The password never reaches PostgreSQL in
clear, so no server log or pg_stat_activity can show it: only its SCRAM-SHA-256 verifier is
sent, computed here as PostgreSQL does (RFC 5802/7677, 4096 iterations). The same password
goes into the secret file monitoring_db_password, read by the exporter.
Standard library only: the deploy tasks on the host may import this file as it is.
"""
import base64
import hashlib
import hmac
import os
import re

ROLE = "dfr_monitor"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
VERIFIER = re.compile(r"^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$")


def scram_sha256(password, salt=None, iterations=4096):
    """PostgreSQL's stored form of a password: SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>."""
    if not password or not password.isascii():
        # PostgreSQL would SASLprep-normalise non-ASCII text first; generated passwords are ASCII.
        raise ValueError("the monitoring password must be non-empty ASCII (generate it with `invoke secrets`)")
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def role_sql(password, role=ROLE):
    """SQL that makes `role` a pg_monitor-only login with this password (run it as superuser)."""
    if not IDENTIFIER.fullmatch(role):
        raise ValueError(f"role name {role!r} must be lower-case letters, digits and _")
    verifier = scram_sha256(password)
    if not VERIFIER.fullmatch(verifier):  # nothing but base64, $ and : goes inside the quotes below
        raise ValueError("unexpected SCRAM verifier")
    return f"""\
-- Monitoring role of dfr-deploy (issue 14): reads statistics and settings, nothing else.
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
DO $dfr$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
    CREATE ROLE {role};
  END IF;
END
$dfr$;
ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  INHERIT CONNECTION LIMIT 3 PASSWORD '{verifier}';
GRANT pg_monitor TO {role};
ALTER ROLE {role} SET default_transaction_read_only = on;
ALTER ROLE {role} SET statement_timeout = '10s';
"""
