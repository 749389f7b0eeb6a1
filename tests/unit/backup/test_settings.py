"""Backup settings derived from an environment's configuration."""
import pytest

from dfr_deploy import environments
from dfr_deploy.backup import settings
from dfr_deploy.errors import DfrError


@pytest.mark.parametrize("raw, mb", [("4915m", 4915), ("3g", 3072), ("3GB", 3072), ("1073741824", 1024),
                                     ("512k", 0), ("lots", None), ("", None)])
def test_memory_values_as_docker_writes_them(raw, mb):
    assert settings.memory_mb(raw) == mb


@pytest.mark.parametrize("db_memory, jobs, expected", [
    ("3g", 2, 768),        # half of 3 GB over 2 jobs
    ("4915m", 8, 307),     # the rendered production sizing on 8 cores
    ("64g", 2, 1024),      # capped: bigger sorts gain nothing
    ("256m", 8, 64),       # floor
    ("", 2, 256),          # no container limit (devel)
])
def test_restore_session_memory_follows_the_database_container(db_memory, jobs, expected):
    env = environments.resolve("devel", overrides={"DB_MEMORY": db_memory, "BACKUP_RESTORE_MAINTENANCE_WORK_MEM": ""})
    assert settings.restore_memory_mb(env, jobs) == expected


def test_restore_session_memory_can_be_set_and_is_checked():
    env = environments.resolve("devel", overrides={"BACKUP_RESTORE_MAINTENANCE_WORK_MEM": "2GB", "DB_MEMORY": "1g"})
    assert settings.restore_memory_mb(env, 2) == 2048
    bad = environments.resolve("devel", overrides={"BACKUP_RESTORE_MAINTENANCE_WORK_MEM": "plenty"})
    with pytest.raises(DfrError, match="BACKUP_RESTORE_MAINTENANCE_WORK_MEM='plenty'.*512MB"):
        settings.restore_memory_mb(bad, 2)
