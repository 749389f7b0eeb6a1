"""The logical restore's own logic that needs no container: which failure is reported."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from dfr_deploy import environments
from dfr_deploy.backup.restore import side_load
from dfr_deploy.backup.restore.run import damage_first
from dfr_deploy.errors import DfrError


def failing(message):
    raise DfrError(message)


def test_a_failure_while_the_set_is_checked_is_reported_as_its_damage():
    with ThreadPoolExecutor(max_workers=1) as pool:
        damaged = pool.submit(failing, "backup set s is damaged: db/1.dat.zst does not match its SHA-256")
        with pytest.raises(DfrError, match="is damaged"):
            with damage_first(damaged):
                raise DfrError("loading the side database: zstd exited 1")
        intact = pool.submit(lambda: None)
        with pytest.raises(DfrError, match="zstd exited 1"):
            with damage_first(intact):
                raise DfrError("loading the side database: zstd exited 1")
    with pytest.raises(DfrError, match="versions differ"):
        with damage_first(None):       # a source checked whole before (not a set)
            raise DfrError("versions differ")
    with damage_first(damaged):
        pass                           # success: the caller takes the check's result itself


def test_parallel_jobs_build_each_index_in_one_process():
    env = environments.resolve("devel")
    assert "max_parallel_maintenance_workers=0" in side_load.session_options(env, 2)
    assert "max_parallel_maintenance_workers" not in side_load.session_options(env, 1)
    assert "synchronous_commit=off" in side_load.session_options(env, 1)
