"""The swap of a point-in-time restore, its journal, and its roll-back.

The journal (BACKUP_DIR/.pitr-journal.json, durable) says how far the swap got:
  swapping   Odoo and the database stopped, the volume name being pointed at the recovered one,
             the database started on it and neutralized (no user has seen it yet)
  starting   Odoo is being started on the recovered volume: it may serve users from here on
A roll-back (any failure, or the next operation finding the journal) points the stack back at the
replaced volume. The recovered volume is removed only if Odoo never ran on it; otherwise it is
kept (as the previous volume, the former previous one joining the kept list), like the logical
restore keeps a restored copy users may have written to. Either way the recovered cluster's
timeline is recorded as abandoned (timelines.py): it ran as the live cluster and archived its
history, and a later recovery must not follow it.
"""
from ... import docker as d
from ...faults import kill_point
from ...progress import say
from ...stack import database, odoo
from .. import journal, settings
from . import timelines, volumes

JOURNAL = ".pitr-journal.json"


def begin(env, new, timeline=None):
    """Write the journal before anything changes; returns its state. `timeline`: the recovered
    cluster's."""
    state = volumes.read(env)
    record = {"phase": "swapping", "previous": state["live"], "new": new, "timeline": timeline, "odoo_running": True,
              "previous_existed": d.volume_exists(state["live"]), "older_previous": state["previous"],
              "kept": state.get("kept", [])}
    journal.write(settings.backup_dir(env), JOURNAL, record)
    return record


def phase(env, state, name):
    state = {**state, "phase": name}
    journal.write(settings.backup_dir(env), JOURNAL, state)
    return state


def switch(env, state):
    """Stop Odoo and the database, point the name at the recovered volume, start the database."""
    odoo.stop(env)
    database.stop(env)
    kill_point("pitr-after-stop")
    volumes.write(env, state["new"], state["previous"], state.get("kept", []))
    database.up(env)
    kill_point("pitr-after-swap")


def finish(env, state, drop_previous):
    """The swap is done: forget the journal, then remove what the previous restore kept."""
    journal.remove(settings.backup_dir(env), JOURNAL)
    new, previous = state["new"], state["previous"]
    older = [v for v in [state.get("older_previous", ""), *state.get("kept", [])] if v and v not in (new, previous)]
    for name in older:
        say(f"      removing the volume replaced by an earlier restore: {name}")
        volumes.remove(env, name)
    keep_previous = state["previous_existed"] and not drop_previous
    if not keep_previous:
        volumes.remove(env, previous)
    volumes.write(env, new, previous if keep_previous else "")


def roll_back(env, runner, state):
    """Point the stack back at the replaced volume and start it again (see the module doc)."""
    previous, new = state["previous"], state["new"]
    odoo_ran = state.get("phase") == "starting"
    say(f"putting the previous database volume {previous} back"
        + (f"; keeping {new}, which Odoo may have served users from" if odoo_ran else ""))
    odoo.stop(env)
    database.stop(env)    # its archiver has sent what it had: the history file, if it ran
    timelines.abandon(env, runner, state.get("timeline"))
    if odoo_ran:
        kept = [v for v in [state.get("older_previous", ""), *state.get("kept", [])] if v]
        volumes.write(env, previous, new, kept)
    else:
        volumes.write(env, previous, state.get("older_previous", ""), state.get("kept", []))
    kill_point("pitr-rolled-back-volumes")
    if state.get("previous_existed", True):
        database.up(env)
        if state.get("odoo_running", True):
            odoo.start(env, check=False)
    else:
        say("the replaced volume did not exist (database lost before the restore): the database stays stopped")
    if not odoo_ran:
        volumes.remove(env, new)
    journal.remove(settings.backup_dir(env), JOURNAL)


def recover(env, runner):
    """Finish what an interrupted point-in-time restore left (the caller holds the lock)."""
    state = journal.read(settings.backup_dir(env, create=False), JOURNAL)
    if state is None:
        volumes.remove_leftovers(env)
        return False
    if state.get("phase") == "done":
        journal.remove(settings.backup_dir(env), JOURNAL)
        return False
    say(f"a point-in-time restore of {env.name} was interrupted ({state.get('phase')})")
    roll_back(env, runner, state)
    volumes.remove_leftovers(env)
    return True
