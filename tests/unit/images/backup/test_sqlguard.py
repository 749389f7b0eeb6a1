"""The SQL guard (dfr_backup_helper.sqlguard) on a hostile corpus: every psql meta-command form is
refused with its line number; what psql never runs as one (inside strings, quoted names, dollar
quotes, comments, COPY data) passes; chunking never changes the answer."""
import time

import pytest
from hypothesis import given, settings, strategies as st

from dfr_backup_helper.sqlguard import Refused, SqlGuard, hidden_positions

HEADER = b"SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n"
COPY = b"COPY public.farmer (id, name, note) FROM stdin;\n"


def check(sql, chunk=None):
    """None if the guard passes the SQL, else the refusal's message; the bytes it clears must be
    exactly the input."""
    guard, cleared = SqlGuard(), b""
    step = chunk or max(1, len(sql))
    try:
        for start in range(0, len(sql), step):
            cleared += guard.feed(sql[start:start + step])
        cleared += guard.finish()
    except Refused as refusal:
        return str(refusal)
    assert cleared == sql
    return None


META_COMMANDS = [rb"\! id", rb"\connect postgres", rb"\c postgres", rb"\copy t to '/tmp/x'", rb"\o /tmp/x",
                 rb"\i /etc/passwd", rb"\ir x.sql", rb"\set x 1", rb"\gset", rb"\g /tmp/out", rb"\w /tmp/w",
                 rb"\setenv PAGER id", rb"\lo_import /etc/passwd", rb"\include x", rb"\;", rb"\:"]


@pytest.mark.parametrize("command", META_COMMANDS)
def test_every_meta_command_on_its_own_line_is_refused_with_its_line(command):
    message = check(HEADER + b"SELECT 1;\n" + command + b"\nSELECT 2;\n")
    name = command.split()[0].decode()
    assert message == f"line 4: psql meta-command {name} is not allowed in a backup's SQL"


@pytest.mark.parametrize("sql", [
    b"SELECT 1 \\! id\n",                                # mid-line, after a statement's text
    b"SELECT 1; \\! id\n",                               # after a statement on the same line
    b"-- a comment\n\\! id\n",                           # after a comment line
    b"/* multi\nline */ \\! id\n",                       # right after a block comment
    b"/* nested /* twice */ still */ \\! id\n",          # after nested comments
    b"SELECT 'it''s' \\! id\n",                          # after a string with doubled quotes
    b"SELECT \"a\"\"b\" \\! id\n",                       # after a quoted name with a doubled quote
    b"SELECT $$ x $$ \\! id\n",                          # after a dollar quote
    b"SELECT $a$ $b$ $a$ \\! id\n",                      # a dollar quote with another tag inside
    b"SELECT E'\\\\' \\! id\n",                          # E'' ending in an escaped backslash
    b"SELECT 1 -- comment\r\\! id\n",                    # a bare CR ends a -- comment for psql
    b"SELECT 1;\r\n\\! id\r\n",                          # CRLF line ends
    b"SELECT (1;\n\\! id\n",                             # inside parentheses (not a statement end)
])
def test_meta_commands_wherever_psql_reads_them(sql):
    assert "psql meta-command \\!" in check(sql)


@pytest.mark.parametrize("sql", [
    b"SELECT $$ \\! id $$;\n",                           # inside a dollar quote
    b"SELECT $body$\n\\! id\n$body$;\n",                 # a dollar quote over lines
    b"SELECT E'\\\\ \\! id';\n",                         # inside an E'' string
    b"SELECT 'C:\\Program Files\\! x';\n",               # backslashes in a standard string
    b"SELECT \"\\! id\";\n",                             # inside a quoted name
    b"-- \\! id\n",                                      # inside a -- comment
    b"/* \\! id */ SELECT 1;\n",                         # inside a block comment
    b"/* /* \\! */ \\! id */ SELECT 1;\n",               # inside a nested one
    b"SELECT x::text, a[1:2] FROM t;\n",                 # casts and slices are not variables
    HEADER + COPY + b"1\t\\N\tback\\\\slash\n\\N\t\\\\N\t\\t\n2\tx\t\\x41\\101\n\\.\nSELECT 1;\n",
    HEADER + COPY + b"1\tx\ty\r\n\\.\r\nSELECT 1;\r\n",  # CRLF COPY data and end marker
    b"SELECT '\xc3\xa9l\xc3\xa8ve', 'd\xc3\xa9j\xc3\xa0 vu';\n",   # UTF-8 text in strings
    # pg_dump's "COPY %s %s FROM stdin;" of a table without columns, and of quoted names
    b"COPY public.dfr_no_columns  FROM stdin;\n\n\n\\.\nSELECT 1;\n",
    b'COPY "Odd ""schema"".x"."Farmer List. 2" (id, "Full Name") FROM stdin;\n1\tx\n\\.\n',
])
def test_what_psql_never_reads_as_a_meta_command_passes(sql):
    assert check(sql) is None


def test_copy_data_lines_only_start_with_copys_escapes():
    assert check(COPY + b"1\tx\ty\n\\! id\n\\.\n") == \
        "line 3: a COPY data line starting with '\\\\! id' (not one of COPY's escapes) is not allowed in a backup's SQL"
    assert "COPY data line" in check(COPY + b"\\.x\n\\.\n")                 # not quite the end marker
    assert check(COPY + b"1\tx\ty\n\\.\n\\! id\n") .startswith("line 4: psql meta-command")   # SQL again after it


@pytest.mark.parametrize("sql", [
    b"/* COPY public.farmer (id) FROM stdin; */\n1\t\\! id\n",         # a fake COPY in a comment
    b"SELECT 'COPY public.farmer (id) FROM stdin;\n';\n1\t\\! id\n",   # ... in a string
    b"SELECT $$\nCOPY public.farmer (id) FROM stdin;\n$$;\n1\t\\! id\n",  # ... in a dollar quote
    b"-- COPY public.farmer (id) FROM stdin;\n1\t\\! id\n",            # ... in a -- comment
])
def test_a_fake_copy_does_not_switch_to_data(sql):
    assert "psql meta-command \\!" in check(sql)


@pytest.mark.parametrize("sql", [
    b"COPY public.farmer (id) FROM stdin; \\! id\n1\n\\.\n",         # psql reads the rest of the line as SQL
    b"COPY public.farmer (id) FROM stdin; SELECT 1;\n1\n\\.\n",
    b"COPY public.farmer\n(id) FROM stdin;\n1\n\\.\n",               # not written as pg_dump writes it
    b"copy public.farmer (id) from stdin;\n1\n\\.\n",
    b"SELECT 1; COPY public.farmer (id) FROM stdin;\n1\n\\.\n",
])
def test_copy_statements_not_as_pg_dump_writes_them_are_refused(sql):
    assert check(sql) is not None


def test_function_bodies_keep_their_semicolons_as_psql_does():
    # psql does not end the statement at the ; inside BEGIN ATOMIC ... END: the COPY line below is
    # part of the CREATE FUNCTION for psql, so it must not switch the guard to COPY data
    body = (b"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1;\n"
            + COPY + b"1\tx\t\\! id\nEND;\n")
    assert "psql meta-command \\!" in check(body)
    assert check(b"CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true "
                 b"THEN 1 END; SELECT 2; END;\n" + COPY + b"1\tx\ty\n\\.\n") is None


@pytest.mark.parametrize("sql, reason", [
    (b"SELECT 'a\\';\n", "backslash right before a quote"),              # standard_conforming_strings off
    (b"SELECT 'a''\\'' \\! id';\n", "backslash right before a quote"),
    (b"SELECT 1abc;\n", "number directly followed by letters"),
    (b"SELECT 1a$$ x $$;\n", "number directly followed by letters"),
    (b"SELECT :VERSION;\n", "psql variable :VERSION"),
    (b"SELECT 1;\0\n", "NUL byte"),
    (b"SELECT 'voil\xc3\xa0';\n", "multibyte client encoding"),           # SJIS would hide the quote
    (b"SELECT \xc3\xa0 begin;\n", "multibyte client encoding"),           # ... or the space
])
def test_what_psql_could_read_another_way_is_refused(sql, reason):
    assert reason in check(sql)


def test_hidden_bytes_follow_each_encodings_lead_bytes():
    assert hidden_positions(b"'\xc3\xa9'") == set()           # no encoding hides the closing quote
    assert 3 in hidden_positions(b"'\xc3\xa0'")               # SJIS: 0xA0 takes the next byte
    assert hidden_positions(b"abc") == set()


def test_pg_dumps_restrict_lines_are_allowed_with_their_key_only():
    dump = b"--\n\\restrict Abc123\n\nSELECT 1;\n\\unrestrict Abc123\n"
    assert check(dump) is None
    assert "\\unrestrict" in check(dump.replace(b"unrestrict Abc123", b"unrestrict Other"))
    assert "\\restrict" in check(b"SELECT 1\n\\restrict Abc123\n")        # inside a statement


STATEMENTS = [HEADER, b"CREATE TABLE public.farmer (id integer, name text, note text);\n",
              b"COMMENT ON TABLE public.farmer IS 'Agriculteurs (d\xc3\xa9j\xc3\xa9 vus)';\n",
              b"CREATE FUNCTION public.f() RETURNS text LANGUAGE plpgsql AS $_$BEGIN RETURN '\\! no'; END$_$;\n",
              b"/* a /* nested */ comment */ SELECT 'it''s', E'\\\\x', \"q\"\"name\";\n",
              COPY + b"1\t\\N\ta\\\\b\n2\tx\\ty\t\\n\r\n\\.\n", b"SELECT 1; -- done\r\n"]


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=8), chunk=st.integers(1, 200),
       hostile=st.sampled_from([None, b"\\! id\n", b"SELECT 1 \\connect x\n"]), where=st.integers(0, 8))
def test_chunking_never_changes_the_answer(parts, chunk, hostile, where):
    if hostile is not None:
        parts = parts[:where] + [hostile] + parts[where:]
    sql = b"".join(parts)
    whole = check(sql)
    assert (whole is None) == (hostile is None)
    assert check(sql, chunk) == whole


def test_a_statement_split_at_every_offset():
    sql = b"".join(STATEMENTS) + b"SELECT 2 \\! id\n"
    expected = check(sql)
    assert expected.startswith("line ")
    for offset in range(1, len(sql)):
        guard = SqlGuard()
        with pytest.raises(Refused) as refused:
            guard.feed(sql[:offset])
            guard.feed(sql[offset:])
            guard.finish()
        assert str(refused.value) == expected


def test_copy_data_scans_fast():
    row = b"123456\tFarmer name \\N\t2024-01-01\t\\N\tsome longer text of a note about the farm\n"
    block = COPY + row * (16 * 1024 * 1024 // len(row)) + b"\\.\n"
    guard = SqlGuard()
    began = time.perf_counter()
    for _ in range(4):
        for start in range(0, len(block), 1 << 22):
            guard.feed(block[start:start + (1 << 22)])
    guard.finish()
    speed = 4 * len(block) / (time.perf_counter() - began) / 1e6
    print(f"COPY data scanned at {speed:.0f} MB/s")
    assert speed > 100
