"""`invoke schedule` into a root the test chooses: units systemd accepts, installed once (twice
changes nothing), removed without a trace; cron lines where there is no systemd."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from croniter import croniter

from dfr_deploy import environments
from dfr_deploy.errors import DfrError
from dfr_deploy.schedule import install, jobs, units

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(tmp_path):
    return environments.resolve("prod", overrides={"PROJECT_NAME": "dfrsched", "BACKUP_SCHEDULE": "15 2 * * *",
                                                   "DRILL_SCHEDULE": "off"})


def snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink()
            else os.readlink(p) for p in sorted(Path(root).rglob("*")) if p.is_file() or p.is_symlink()}


def verify(folder, names):
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: run `bash setup.sh` (it installs systemd's tools)"
    return subprocess.run([tool, "verify", *names], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "SYSTEMD_UNIT_PATH": f"{folder}:", "LC_ALL": "C"})


def test_systemd_units_are_accepted_by_systemd_and_installed_once(env, tmp_path):
    root = tmp_path / "root"
    written = install.install(env, root, mode="systemd")
    folder = root / install.SYSTEMD_DIR
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert names == ["dfrsched-prod-backup.service", "dfrsched-prod-backup.timer", "dfrsched-prod-basebackup.service",
                     "dfrsched-prod-basebackup.timer", "dfrsched-prod-notify@.service",
                     "dfrsched-prod-wal-check.service", "dfrsched-prod-wal-check.timer"]   # drill is off
    assert written
    result = verify(folder, [n for n in names if "@" not in n])
    assert result.returncode == 0, result.stdout + result.stderr
    timer = (folder / "dfrsched-prod-backup.timer").read_text()
    assert "OnCalendar=*-*-* 02:15:00\n" in timer and "Persistent=true" in timer and "RandomizedDelaySec=" in timer
    service = (folder / "dfrsched-prod-backup.service").read_text()
    assert "OnFailure=dfrsched-prod-notify@%n.service" in service
    assert f"ExecStart={Path(sys.executable).parent / 'invoke'} --search-root {env.root} job --name=backup --env=prod" \
        in service
    assert sorted(p.name for p in (folder / "timers.target.wants").iterdir()) == [
        "dfrsched-prod-backup.timer", "dfrsched-prod-basebackup.timer", "dfrsched-prod-wal-check.timer"]
    before = snapshot(root)
    assert install.install(env, root, mode="systemd") == [], "installing twice changes nothing"
    assert snapshot(root) == before
    removed = install.remove(env, root)
    assert removed and snapshot(root) == {}, "--remove leaves nothing behind"


def test_systemd_verify_would_catch_a_broken_unit(env, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    good = units.systemd_units(env)["dfrsched-prod-backup.timer"]
    (folder / "dfrsched-prod-backup.timer").write_text(good.replace("OnCalendar=*-*-* 02:15:00", "OnCalendar=never ever"))
    (folder / "dfrsched-prod-backup.service").write_text(units.systemd_units(env)["dfrsched-prod-backup.service"])
    assert verify(folder, ["dfrsched-prod-backup.timer"]).returncode != 0


def test_a_changed_schedule_rewrites_only_its_timer_and_a_job_turned_off_goes(env, tmp_path):
    root = tmp_path / "root"
    install.install(env, root, mode="systemd")
    changed = environments.resolve("prod", overrides={**env.overrides, "BACKUP_SCHEDULE": "0 3 * * *",
                                                      "WAL_CHECK_SCHEDULE": "off"})
    written = install.install(changed, root, mode="systemd")
    assert sorted(p.name for p in written) == ["dfrsched-prod-backup.timer", "dfrsched-prod-wal-check.service",
                                               "dfrsched-prod-wal-check.timer"]
    assert not (root / install.SYSTEMD_DIR / "dfrsched-prod-wal-check.timer").exists()


def test_cron_lines_where_there_is_no_systemd(env, tmp_path):
    root = tmp_path / "root"
    written = install.install(env, root, mode="cron")
    cron = (root / install.CRON_DIR / "dfrsched-prod").read_text()
    lines = [line for line in cron.splitlines() if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 3
    for line, (job, expression) in zip(lines, jobs.schedules(env)):
        fields = line.split()
        assert " ".join(fields[:5]) == expression and croniter.is_valid(expression)
        assert fields[5] == "root" and f"--name={job.name}" in line and "--notify" in line
        assert line.endswith(f">> /var/log/dfr/dfrsched-prod-{job.name}.log 2>&1")
    assert "rotate" in (root / install.LOGROTATE_DIR / "dfrsched-prod").read_text()
    assert install.install(env, root, mode="cron") == [] and written
    install.remove(env, root)
    assert not [p for p in root.rglob("*") if p.is_file()]


def test_a_bad_schedule_names_its_setting(tmp_path):
    env = environments.resolve("prod", overrides={"BACKUP_SCHEDULE": "every night"})
    with pytest.raises(DfrError, match="BACKUP_SCHEDULE in config/prod.env"):
        install.install(env, tmp_path, mode="systemd")
    assert not list(tmp_path.rglob("*.timer"))
