"""How the helper's restore-db reads a set's table of contents: which items are table data or
foreign keys, the COPY statements, and foreign keys rewritten to be added NOT VALID."""
from dfr_backup_helper import filestore, loader, toc

LISTING = [
    "3525; 0 16450 TABLE DATA public bench_farmer postgres",
    "3371; 2606 16500 FK CONSTRAINT public bench_plot bench_plot_farmer_id_fkey postgres",
    "3361; 1259 16470 INDEX public idx TABLE DATA x postgres",      # a name that reads like a type
    "3544; 0 0 SEQUENCE SET public ir_attachment_id_seq postgres",
]

FK_SQL = """--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: bench_plot bench_plot_farmer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bench_plot
    ADD CONSTRAINT bench_plot_farmer_id_fkey FOREIGN KEY (farmer_id) REFERENCES public.bench_farmer(id);


--
-- Name: dfr_visit dfr_visit_farmer_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE public.dfr_visit
    ADD CONSTRAINT dfr_visit_farmer_fkey FOREIGN KEY (farmer) REFERENCES public.dfr_farmer(id) ON DELETE CASCADE;
"""


def test_items_are_told_apart_by_their_type_not_their_name():
    assert [m.group(1) for m in map(toc.TABLE_DATA_ITEM.match, LISTING) if m] == ["3525"]
    assert [m.group(1) for m in map(toc.FK_ITEM.match, LISTING) if m] == ["3371"]


def test_copy_statements_with_quoted_names_are_parsed():
    cases = {
        "COPY public.bench_farmer (id, name) FROM stdin;": ("public.bench_farmer", "(id, name) "),
        'COPY "Odd ""schema"".x"."Farmer List. 2" (id, "Full Name") FROM stdin;':
            ('"Odd ""schema"".x"."Farmer List. 2"', '(id, "Full Name") '),
        "COPY public.dfr_no_columns  FROM stdin;": ("public.dfr_no_columns", " "),
    }
    for line, (table, columns) in cases.items():
        match = toc.COPY_STATEMENT.match(line)
        assert match and match.group(1) == table and match.group(2) == columns, line
    assert toc.COPY_STATEMENT.match("COPY public.t (a) TO stdout;") is None


def test_foreign_keys_are_added_not_valid_except_on_partitioned_tables():
    sql = loader.added_not_valid(FK_SQL, 2)
    assert "REFERENCES public.bench_farmer(id) NOT VALID;" in sql
    # PostgreSQL 15 refuses NOT VALID foreign keys on partitioned tables (ALTER TABLE without ONLY)
    assert "REFERENCES public.dfr_farmer(id) ON DELETE CASCADE;" in sql
    assert sql.count("NOT VALID") == 1


def test_foreign_keys_left_to_pg_restore_when_unsure():
    # one already NOT VALID in the source: it must stay unchecked, so nothing is rewritten
    assert loader.added_not_valid(FK_SQL.replace("(id);", "(id) NOT VALID;"), 2) is None
    # not as many statements as foreign keys in the listing: an unknown layout
    assert loader.added_not_valid(FK_SQL, 3) is None


def test_link_files_takes_only_files_with_the_row_sha1(tmp_path, monkeypatch, capsys):
    import hashlib
    import io
    import json
    import os
    from types import SimpleNamespace
    live, dest = tmp_path / "live", tmp_path / "side"
    rows = []
    for content in (b"good", b"damaged later"):
        sha = hashlib.sha1(content).hexdigest()
        (live / sha[:2]).mkdir(parents=True, exist_ok=True)
        (live / sha[:2] / sha).write_bytes(content)
        rows.append(f"{sha[:2]}/{sha}\t{sha}")
    (live / rows[1].split("\t")[0]).write_bytes(b"bit rot")               # content no longer its SHA-1
    gone = hashlib.sha1(b"gone").hexdigest()
    rows += [f"{gone[:2]}/{gone}\t{gone}", rows[0], "../escape\tx"]        # missing, shared, unsafe
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(rows) + "\n"))
    filestore.cmd_link_files(SimpleNamespace(source=str(live), dest=str(dest), db=None))
    result = json.loads(capsys.readouterr().out)
    assert result == {"linked": 1, "missing": [rows[2].split("\t")[0], "../escape"],
                      "mismatched": [rows[1].split("\t")[0]]}
    good = rows[0].split("\t")[0]
    assert os.path.samefile(dest / good, live / good)                    # a hard link, not a copy
    assert not (tmp_path / "escape").exists() and not (dest / rows[1].split("\t")[0]).exists()
