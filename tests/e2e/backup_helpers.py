"""Shared helpers of the backup end-to-end tests: data that looks like a registry, and
fingerprints of a database and a filestore that tell whether two are the same."""
import json
import os
import subprocess
import sys

from dfr_deploy import environments
from dfr_deploy.backup import settings

from .http import request

TABLES = ("dfr_farmer", "dfr_plot", "dfr_household")


def seed(stack, rows=2000, files=12, marker="original"):
    """Rows in several tables, and attachments uploaded through Odoo (stand-in) into the filestore."""
    # As the application role, like Odoo's own tables.
    stack.exec_db(
        "SET ROLE odoo;"
        "CREATE TABLE IF NOT EXISTS dfr_farmer (id serial PRIMARY KEY, name text, national_id text UNIQUE, born date);"
        "CREATE TABLE IF NOT EXISTS dfr_plot (id serial PRIMARY KEY, farmer_id int REFERENCES dfr_farmer(id),"
        " area numeric(10,2), geo text);"
        "CREATE TABLE IF NOT EXISTS dfr_household (id serial PRIMARY KEY, head int REFERENCES dfr_farmer(id),"
        " members jsonb);"
        "CREATE TABLE IF NOT EXISTS dfr_marker (value text);"
        f"INSERT INTO dfr_farmer (name, national_id, born) SELECT 'Farmer ' || g || ' Ñandú', 'NID' || g,"
        f" date '1960-01-01' + g FROM generate_series(1, {rows}) g;"
        f"INSERT INTO dfr_plot (farmer_id, area, geo) SELECT g, g * 1.5, 'POINT(' || g || ' 1)'"
        f" FROM generate_series(1, {rows}) g;"
        f"INSERT INTO dfr_household (head, members) SELECT g, jsonb_build_object('n', g % 7)"
        f" FROM generate_series(1, {rows}, 3) g;"
        f"DELETE FROM dfr_marker; INSERT INTO dfr_marker VALUES ('{marker}');")
    port = stack.ports["NGINX_HTTPS_PORT"]
    for number in range(files):
        body = os.urandom(1000 + number * 3000) + f"attachment {number} {marker}".encode()
        status, _, answer = request(port, f"/web/binary/upload_attachment?name=doc{number}.bin", method="POST",
                                    body=body, headers={"Host": "localhost", "Content-Type": "application/octet-stream"})
        assert status == 200, answer


# Objects a restore must bring back although they are awkward for a loader: names that need
# quoting (a quote, a dot and spaces), text with tabs, newlines and backslashes, a generated
# column (not in the dump's COPY), a table with no columns, a partitioned table with a foreign
# key, a sequence's value and a large object.
ODD_TABLE = '"Odd ""schema"".x"."Farmer List. 2"'
EDGE_CASES = f"""
SET ROLE odoo;
CREATE SCHEMA "Odd ""schema"".x";
CREATE TABLE {ODD_TABLE} (id int PRIMARY KEY, "Full Name" text, twice int GENERATED ALWAYS AS (id * 2) STORED);
INSERT INTO {ODD_TABLE} (id, "Full Name") SELECT g, E'tab\\there\\nnew line \\\\ back ' || g FROM generate_series(1, 300) g;
CREATE TABLE dfr_no_columns ();
INSERT INTO dfr_no_columns DEFAULT VALUES; INSERT INTO dfr_no_columns DEFAULT VALUES;
CREATE TABLE dfr_visit (id int, region text, farmer int REFERENCES dfr_farmer (id)) PARTITION BY LIST (region);
CREATE TABLE dfr_visit_north PARTITION OF dfr_visit FOR VALUES IN ('north');
CREATE TABLE dfr_visit_south PARTITION OF dfr_visit FOR VALUES IN ('south');
INSERT INTO dfr_visit SELECT g, CASE WHEN g % 3 = 0 THEN 'north' ELSE 'south' END, g FROM generate_series(1, 90) g;
CREATE SEQUENCE dfr_counter; SELECT setval('dfr_counter', 4242);
CREATE TABLE dfr_scan (page oid); INSERT INTO dfr_scan SELECT lo_from_bytea(0, 'scanned registry page'::bytea);
"""


def seed_edge_cases(stack):
    stack.exec_db(EDGE_CASES)


def edge_fingerprint(stack, db="dfr"):
    """The edge-case objects, as one text: every row, the sequence and the large object."""
    tables = (ODD_TABLE, "dfr_no_columns", "dfr_visit", "dfr_visit_north")
    parts = [stack.exec_db(f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
                           f" FROM {table} t", db=db) for table in tables]
    parts.append(stack.exec_db("SELECT last_value FROM dfr_counter", db=db))
    # every foreign key there, and checked (restores add them NOT VALID, then validate them)
    parts.append(stack.exec_db("SELECT string_agg(conrelid::regclass || '.' || conname || '=' || convalidated, ','"
                               " ORDER BY conrelid::regclass::text, conname) FROM pg_constraint WHERE contype = 'f'",
                               db=db))
    parts.append(stack.exec_db("SELECT convert_from(lo_get(page), 'UTF8') FROM dfr_scan", db=db))
    return parts


def db_fingerprint(stack, db="dfr"):
    """Row count and an md5 of the ordered contents of every table we seeded, and of ir_attachment."""
    result = {}
    for table in TABLES + ("ir_attachment", "dfr_marker"):
        result[table] = stack.exec_db(
            f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
            f" FROM {table} t", db=db)
    return result


def filestore_fingerprint(stack, db="dfr"):
    """{store_fname: sha1} of every file in the filestore of `db`, read in the odoo container."""
    code = ("import hashlib, json, os, sys; root = sys.argv[1]; out = {}\n"
            "for d, _, fs in os.walk(root):\n"
            "    for f in fs:\n"
            "        p = os.path.join(d, f); r = os.path.relpath(p, root)\n"
            "        if not r.startswith('checklist'): out[r] = hashlib.sha1(open(p, 'rb').read()).hexdigest()\n"
            "print(json.dumps(out))")
    out = stack.compose("exec", "-T", "-u", "1000", "odoo", "python3", "-c", code, f"/var/lib/odoo/filestore/{db}")[1]
    return json.loads(out.strip().splitlines()[-1])


def config_params(stack, db="dfr"):
    out = stack.exec_db("SELECT json_object_agg(key, value) FROM ir_config_parameter", db=db)
    return json.loads(out)


def invoke(stack, *args, extra_env=None, timeout=900):
    """Run `invoke ARGS` as a user would, with the stack's settings in the environment."""
    env = dict(os.environ)
    env.update({k: str(v) for k, v in stack.env.overrides.items()})
    env.update(extra_env or {})
    command = [os.path.join(os.path.dirname(sys.executable), "invoke"), *args, f"--env={stack.env.name}"]
    return subprocess.run(command, cwd=str(environments.ROOT), env=env, capture_output=True, text=True,
                          timeout=timeout)


def sets_of(stack):
    folder = settings.backup_dir(stack.env)
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []
