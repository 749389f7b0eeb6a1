"""The one door of every operation that changes an environment's state.

Backup, restore, prune, export, drill, deploy, stop, admin-password, tls --renew - and the
scheduled jobs - all enter here: the environment's lock is taken (one operation at a time; the
lock file names its holder, and the kernel frees it when the holder dies), then every kind of
interrupted operation is put right (backup.repair), and only then does the operation run.
Nothing else takes the lock.
"""
from contextlib import contextmanager

from ..backup import lock, repair, settings
from ..progress import say


@contextmanager
def enter(env, operation, wait=0.0, before=None):
    """Hold the environment's lock for `operation` (waiting up to `wait` seconds for another
    one to finish), put interrupted work right, then run the body. `before`: what the user
    should read the operation as ("the stack" for a deploy)."""
    with lock.held(settings.backup_dir(env), operation, env.name, wait=wait) as holder:
        found = repair.interrupted(env)
        if found:
            say(f"{' and '.join(found)} of {env.name} was interrupted: putting it right before "
                f"{before or 'the ' + operation} starts")
        repair.put_right(env)
        yield holder
