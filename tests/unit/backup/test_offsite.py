"""Production's offsite copies leave the host: refused unencrypted unless the settings allow it."""
import pytest

from dfr_deploy import environments
from dfr_deploy.backup.offsite import check_encryption
from dfr_deploy.errors import DfrError


def test_offsite_copies_of_production_must_be_encrypted(tmp_path):
    env = environments.resolve("prod", overrides={"BACKUP_RCLONE_REMOTE": str(tmp_path / "offsite")})
    with pytest.raises(DfrError, match="BACKUP_AGE_RECIPIENTS is empty.*BACKUP_OFFSITE_UNENCRYPTED=true"):
        check_encryption(env, encrypting=False)
    check_encryption(env, encrypting=True)
    allowed = environments.resolve("prod", overrides={"BACKUP_RCLONE_REMOTE": str(tmp_path / "offsite"),
                                                      "BACKUP_OFFSITE_UNENCRYPTED": "true"})
    check_encryption(allowed, encrypting=False)
    check_encryption(environments.resolve("staging"), encrypting=False)   # staging: the team decides
