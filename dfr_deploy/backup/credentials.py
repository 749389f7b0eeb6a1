"""Private files holding what one step needs to log in or decrypt, and nothing else.

They live in a 0700 folder inside BACKUP_DIR (root-only; a `.tmp-` name, so that what a killed
operation leaves is removed by the next one), are bind-mounted read-only into the one container
that needs them, belong to the uid that container runs as (libpq refuses a password file others
may read, and the tools' user cannot read the operator's 0600 files), and are removed when the
operation ends. Passwords never reach an argv, an environment or a log line.
"""
import os
import shutil
import tempfile
from pathlib import Path


def escape(value):
    """A pgpass field: backslash and colon escaped."""
    return value.replace("\\", "\\\\").replace(":", "\\:")


class Credentials:
    def __init__(self, parent=None):
        self._parent = parent
        self._dir = None
        self._made = {}

    def _folder(self):
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix=".tmp-credentials-", dir=self._parent))   # 0700
        return self._dir

    def _write(self, key, content, owner):
        if key in self._made:
            return self._made[key]
        path = self._folder() / f"{len(self._made)}-{key[0]}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        if os.geteuid() == 0:
            os.chown(path, *owner)
        self._made[key] = path
        return path

    def pgpass(self, role, password, owner, host="db", port=5432):
        """A PGPASSFILE for one role, owned by the step's uid."""
        line = f"{host}:{port}:*:{escape(role)}:{escape(password)}\n"
        return self._write(("pgpass", role, host, owner), line, owner)

    def copy(self, source, owner):
        """A private copy of a credential file (age identity, rclone config) for the step's uid."""
        return self._write(("copy", str(source), owner), Path(source).read_text(), owner)

    def close(self):
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir, self._made = None, {}
