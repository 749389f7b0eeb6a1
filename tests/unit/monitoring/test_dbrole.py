"""The exporter's database role: the SQL carries a SCRAM-SHA-256 verifier, never the password,
and the verifier is the one PostgreSQL would store (checked against RFC 7677's example)."""
import base64
import hashlib
import hmac

import pytest

from dfr_monitoring import dbrole

# RFC 7677, section 3: user "user", password "pencil".
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
AUTH_MESSAGE = (b"n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
CLIENT_PROOF = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_SIGNATURE = base64.b64decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def test_verifier_matches_rfc_7677():
    verifier = dbrole.scram_sha256("pencil", salt=SALT)
    head, keys = verifier.split("$", 1)[1].split("$")
    assert head == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    assert hmac.new(server_key, AUTH_MESSAGE, "sha256").digest() == SERVER_SIGNATURE
    client_signature = hmac.new(stored_key, AUTH_MESSAGE, "sha256").digest()
    client_key = bytes(a ^ b for a, b in zip(CLIENT_PROOF, client_signature))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_role_sql_grants_pg_monitor_only_and_never_holds_the_password():
    sql = dbrole.role_sql("Sw0rdfish-and-chips-2026")
    assert "Sw0rdfish" not in sql and "PASSWORD 'SCRAM-SHA-256$4096:" in sql
    assert "GRANT pg_monitor TO dfr_monitor;" in sql and sql.count("GRANT") == 1
    assert "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS" in sql
    assert "SET log_statement = 'none'" in sql and "default_transaction_read_only = on" in sql
    assert dbrole.role_sql("same") != dbrole.role_sql("same")   # a new salt every time


@pytest.mark.parametrize("password, role", [("", "dfr_monitor"), ("pässword", "dfr_monitor"),
                                            ("ok-password", "x; DROP ROLE postgres"), ("ok-password", "Monitor")])
def test_bad_input_is_refused(password, role):
    with pytest.raises(ValueError):
        dbrole.role_sql(password, role=role)
