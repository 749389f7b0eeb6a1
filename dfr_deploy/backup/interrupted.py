"""Operations killed half-way are put right before anything else runs on the environment.

A restore's or a point-in-time restore's swap leaves a journal until it is done; an unfinished
set leaves a `.tmp-*` folder. Every backup operation puts them right first, under its lock, and
so does `invoke deploy` before it starts Odoo: otherwise Odoo would come up on a half-swapped
database, and the next backup would put the previous one back over what users had written.
"""
from plumbum.commands.processes import ProcessExecutionError, ProcessTimedOut

from ..docker import compose
from ..errors import DfrError
from ..progress import say
from . import lock, pitr, publish, restore, settings
from .tools import Tools


def put_right(env, tools):
    """Finish interrupted restores and remove unfinished sets (the caller holds the lock)."""
    restore.recover(env, tools)
    pitr.recover_interrupted(env, tools)
    for leftover in publish.leftovers(tools.backup_dir):
        say(f"removing the unfinished set {leftover.name} left by an interrupted run")
        publish.discard(leftover, tools.remove)


def journal_left(env, name):
    """A swap journal is there (looked up without creating BACKUP_DIR)."""
    return (settings.backup_dir(env, create=False) / name).exists()


def pending(env):
    return journal_left(env, restore.JOURNAL) or journal_left(env, pitr.JOURNAL)


def before_deploy(env):
    """Replay an interrupted restore's journal before the stack starts (a failure stops the
    deploy: Odoo must not start on a half-swapped database)."""
    if not pending(env):
        return False
    tools = Tools(env)
    say(f"a restore of {env.name} was interrupted: putting it right before the stack starts")
    tools.check_image()
    try:
        # A restore's swap is undone with SQL: the database must run. A point-in-time
        # restore's roll-back starts the right cluster itself.
        if env.bundled_db and journal_left(env, restore.JOURNAL):
            try:
                compose(env)["up", "--detach", "--no-deps", "--wait", "db"].run(timeout=600)
            except (ProcessExecutionError, ProcessTimedOut):
                raise DfrError(f"the database of {env.name} did not start: see `invoke logs --env={env.name} "
                               "--service=db`; the interrupted restore is put right once it runs") from None
        with lock.held(tools.backup_dir, "deploy", env.name):
            put_right(env, tools)
    finally:
        tools.close()
    return True
