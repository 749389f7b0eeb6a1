"""age encryption: recipients (public keys) from the settings, identities (private keys) from
a file given at restore time. Private keys never enter a command line or a log: the identity
file is mounted read-only into the tools container.
"""
import os
import re
from pathlib import Path

from ..errors import DfrError

AGE_KEY = re.compile(r"^age1[0-9a-z]{58}$")


def recipients(env):
    """BACKUP_AGE_RECIPIENTS: `age1...` keys (comma or space separated) and/or files of keys.

    Returns (keys, files); both empty means: do not encrypt.
    """
    raw = env.get("BACKUP_AGE_RECIPIENTS", "")
    keys, files = [], []
    for item in filter(None, re.split(r"[,\s]+", raw)):
        if AGE_KEY.match(item):
            keys.append(item)
        elif Path(item).expanduser().is_file():
            files.append(Path(item).expanduser().resolve())
        else:
            raise DfrError(f"BACKUP_AGE_RECIPIENTS entry {item!r} is neither an age public key (age1...) nor "
                           f"a readable recipients file: fix config/{env.name}.env")
    return keys, files


def identity(env, given=None):
    """The identity file for an encrypted set: --identity, else BACKUP_AGE_IDENTITY, checked."""
    return identity_file(given or env.get("BACKUP_AGE_IDENTITY", "") or None)


def identity_file(path):
    """Check an identity file given for decryption; refuse one readable by others."""
    if not path:
        raise DfrError("this set is encrypted: give the age identity file with --identity=PATH "
                       "(or set BACKUP_AGE_IDENTITY)")
    identity = Path(path).expanduser().resolve()
    if not identity.is_file():
        raise DfrError(f"age identity file {identity} does not exist: give the file holding AGE-SECRET-KEY-...")
    if os.stat(identity).st_mode & 0o077:
        raise DfrError(f"age identity file {identity} is readable by others: `chmod 600 {identity}` first")
    return identity
