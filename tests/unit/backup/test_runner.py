"""The docker command lines of the backup tools' steps, compared as written (no Docker needed):
who runs, with which limits, mounts, network and credentials."""
import os
import stat

import pytest

from dfr_deploy import environments
from dfr_deploy.backup import helper_cli, mounts
from dfr_deploy.backup.runner import Role, Runner


@pytest.fixture
def runner(tmp_path):
    env = environments.resolve("staging", overrides={"PROJECT_NAME": "dfrx", "IMAGE_REGISTRY": "reg",
                                                     "IMAGE_TAG": "1.0", "BACKUP_DIR": str(tmp_path / "b")})
    r = Runner(env)
    yield r
    r.close()


def argv(command):
    args = command.formulate()
    return args[1:]   # without the docker binary's path


HARDENED = ["--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only",
            "--tmpfs", "/tmp:rw,nosuid,nodev,size=256m,mode=1777", "--pids-limit", "512", "--memory", "2g",
            "-e", "HOME=/tmp"]


def test_a_step_without_database_has_no_network_and_only_its_mounts(runner, tmp_path):
    cmd = runner.command("fs-check", helper_cli.check_files("/var/lib/odoo/filestore/dfr"),
                         volumes=[mounts.volume("dfrx-staging_odoo_data", mounts.ODOO_DATA)])
    assert argv(cmd) == ["run", "--rm", "-i", "--label", "dfr.backup.project=dfrx-staging",
                         "--label", "dfr.backup.step=fs-check", "--user", "1000:1000", *HARDENED,
                         "--network", "none", "-v", "dfrx-staging_odoo_data:/var/lib/odoo:ro",
                         "reg/backup:1.0", "dfr-backup-helper", "check-files", "--root", "/var/lib/odoo/filestore/dfr"]


def test_a_database_step_logs_in_with_a_private_password_file_never_argv(runner, tmp_path):
    out = tmp_path / "b" / ".tmp-set"
    cmd = runner.command("pg_dump", helper_cli.dump("/out/db", 2, 1, "dfr"), role=Role("odoo", "s3cr:et\\x"),
                         volumes=[mounts.bind(out, mounts.OUT, read_only=False)],
                         pg_options="-c synchronous_commit=off")
    args = argv(cmd)
    pgpass = next(a.split(":")[0] for a in args if a.endswith(f":{mounts.PGPASS}:ro"))
    assert args == ["run", "--rm", "-i", "--label", "dfr.backup.project=dfrx-staging",
                    "--label", "dfr.backup.step=pg_dump", "--user", "1000:1000", *HARDENED,
                    "--network", "dfrx-staging_backend", "-e", "PGHOST=db", "-e", "PGPORT=5432", "-e", "PGUSER=odoo",
                    "-e", "PGPASSFILE=/run/dfr/pgpass", "-e", "PGAPPNAME=dfr-backup",
                    "-v", f"{pgpass}:/run/dfr/pgpass:ro", "-e", "PGOPTIONS=-c synchronous_commit=off",
                    "-v", f"{out}:/out", "reg/backup:1.0",
                    "dfr-backup-helper", "dump", "--out", "/out/db", "--jobs", "2", "--level", "1", "dfr"]
    assert not any("s3cr" in a for a in args)
    # libpq's format (':' and '\' escaped), readable by the step's user only
    assert open(pgpass).read() == "db:5432:*:odoo:s3cr\\:et\\\\x\n"
    st = os.stat(pgpass)
    assert stat.S_IMODE(st.st_mode) == 0o600
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == mounts.TOOLS_USER
    runner.close()
    assert not os.path.exists(pgpass), "credentials are removed when the operation ends"


def test_wal_steps_run_as_postgres_and_readers_are_marked(runner, tmp_path):
    cmd = runner.command("wal-list", helper_cli.wal_list(mounts.ARCHIVE), user=mounts.POSTGRES_USER,
                         volumes=[mounts.volume("dfrx-staging_wal_archive", mounts.ARCHIVE)])
    assert "--user" in argv(cmd) and argv(cmd)[argv(cmd).index("--user") + 1] == "999:999"
    reader = Runner(runner.env, reader=True)
    args = argv(reader.command("wal-list", ["x"]))
    assert args[3:5] == ["--label", "dfr.backup.reader=dfrx-staging"]


def test_helper_command_lines():
    assert helper_cli.restore_filestore("/set/filestore.tar.zst", "/var/lib/odoo/filestore/s", None, 1024) == [
        "dfr-backup-helper", "restore-filestore", "--archive", "/set/filestore.tar.zst",
        "--dest", "/var/lib/odoo/filestore/s", "--reserve-bytes", "1024"]
    assert helper_cli.move([("/a", "/b"), ("/c", "/d")], missing_ok=False) == [
        "dfr-backup-helper", "move", "/a", "/b", "/c", "/d"]
    assert helper_cli.encrypt("/set", "/out/set.tar.age", ["age1x"], ["/run/dfr/recipients0"]) == [
        "dfr-backup-helper", "encrypt", "--src", "/set", "--out", "/out/set.tar.age", "--recipient", "age1x",
        "--recipients-file", "/run/dfr/recipients0"]
    assert helper_cli.query("dfr_restore_x", {"name": "a b"}) == [
        "dfr-backup-helper", "query", "--db", "dfr_restore_x", "--var", "name=a b"]
    assert helper_cli.query("dfr", None, "public.ir_attachment") == [
        "dfr-backup-helper", "query", "--db", "dfr", "--if-relation", "public.ir_attachment"]
    assert helper_cli.check_files("/var/lib/odoo/filestore/s", db="s") == [
        "dfr-backup-helper", "check-files", "--root", "/var/lib/odoo/filestore/s", "--db", "s"]
    assert helper_cli.verify_files("/var/lib/odoo/filestore/s", db="s") == [
        "dfr-backup-helper", "verify-files", "--root", "/var/lib/odoo/filestore/s", "--db", "s"]
    assert helper_cli.link_files("/var/lib/odoo/filestore/dfr", "/var/lib/odoo/filestore/s", db="s") == [
        "dfr-backup-helper", "link-files", "--source", "/var/lib/odoo/filestore/dfr", "--dest",
        "/var/lib/odoo/filestore/s", "--db", "s"]
    assert helper_cli.unpack_basebackup("/set/basebackup", "/newvolume", True, 5) == [
        "dfr-backup-helper", "unpack-basebackup", "--src", "/set/basebackup", "--dest", "/newvolume",
        "--recovery-signal", "--reserve-bytes", "5"]
    assert helper_cli.offsite_copy("/set", "s3:b/x", "/run/dfr/rclone.conf", ["offsite.json"]) == [
        "dfr-backup-helper", "offsite-copy", "--source", "/set", "--dest", "s3:b/x", "--config",
        "/run/dfr/rclone.conf", "--exclude", "offsite.json"]
