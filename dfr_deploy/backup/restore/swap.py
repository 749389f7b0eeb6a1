"""The swap of a logical restore, its journal, and putting an interrupted restore right.

The journal (BACKUP_DIR/.restore-journal.json, written durably) says how far a restore got:
  loading      the side database, its role and side folders exist; nothing live changed
  swapping     Odoo is being stopped and the databases and filestore folders renamed
  starting     Odoo is being started on the restored copy: it may serve users from here on
  previous-back  a recovery put the previous database back (recorded before anything else)
Whatever an interrupted restore left, `recover` (called by the one door before every operation)
puts the previous database and filestore back; a restored copy Odoo may have run on is kept as
the previous copy, never dropped.
"""
from ...errors import DfrError
from ...faults import kill_point
from ...progress import say
from ...stack import odoo
from .. import helper_cli, journal, mounts, settings
from . import sandbox

JOURNAL = ".restore-journal.json"


def move_folders(runner, *moves, missing_ok=True):
    """rename(2) filestore folders, in order, in one helper run: (src, dst) pairs."""
    pairs = [(f"{mounts.FILESTORE}/{src}", f"{mounts.FILESTORE}/{dst}") for src, dst in moves]
    what = "; ".join(f"moving filestore {src} to {dst}" for src, dst in moves)
    return runner.run("fs-move", helper_cli.move(pairs, missing_ok), what,
                      volumes=[mounts.volume(runner.odoo_volume, mounts.ODOO_DATA, read_only=False)])


def filestore_exists(runner, name):
    return runner.run("fs-exists", helper_cli.is_dir(f"{mounts.FILESTORE}/{name}"), "looking for a filestore folder",
                      volumes=[mounts.volume(runner.odoo_volume, mounts.ODOO_DATA)])["is_dir"]


def remove_folder(runner, name):
    runner.run("fs-remove", helper_cli.remove([mounts.FILESTORE], [f"{mounts.FILESTORE}/{name}"]),
               f"removing filestore {name}", volumes=[mounts.volume(runner.odoo_volume, mounts.ODOO_DATA, read_only=False)])


def drop_copy(runner, catalog, name):
    """Drop a database, its sandbox role if any, and its filestore folder (side copies and old
    previous copies only)."""
    sandbox.drop(catalog, name)
    remove_folder(runner, name)


def swap(env, runner, catalog, db, side, previous, timeout):
    """Odoo stopped, the databases renamed in ONE transaction, the filestore folders moved,
    Odoo started on the restored copy and healthy. Any failure puts the previous one back."""
    folder = settings.backup_dir(env)
    state = {"db": db, "side": side, "previous": previous, "odoo_running": True, "timeout": timeout}
    journal.write(folder, JOURNAL, {**state, "phase": "swapping"})
    try:
        stopped = odoo.stop(env)
        sandbox.terminate(catalog, db, side)
        catalog.sql('BEGIN;\nALTER DATABASE :"db" RENAME TO :"previous";\nALTER DATABASE :"side" RENAME TO :"db";\n'
                    'COMMIT;', {"db": db, "side": side, "previous": previous}, "renaming the databases")
        move_folders(runner, (db, previous), (side, db))
        kill_point("after-rename")
        journal.write(folder, JOURNAL, {**state, "phase": "starting"})
        odoo.start(env, cids=stopped, timeout=timeout)
        kill_point("after-start")
        journal.write(folder, JOURNAL, {**state, "phase": "done"})
    except BaseException:
        say("the swap failed: putting the previous database back")
        recover(env, runner, catalog)
        raise
    journal.remove(folder, JOURNAL)


def recover(env, runner, catalog):
    """Finish what an interrupted restore left (the caller holds the lock). True if it did."""
    folder = settings.backup_dir(env, create=False)
    state = journal.read(folder, JOURNAL)
    if state is None:
        return False
    if state.get("phase") == "done":
        journal.remove(folder, JOURNAL)
        return False
    if state.get("phase") == "loading":
        say(f"a restore of {env.name} was interrupted before its swap: removing its side copy {state['side']}")
        drop_copy(runner, catalog, state["side"])
        journal.remove(folder, JOURNAL)
        return True
    db, side, previous = state["db"], state["side"], state["previous"]
    say(f"a restore of {env.name} was interrupted ({state.get('phase')}): putting the previous database back")
    odoo.stop(env)
    if state.get("phase") != "previous-back":
        if catalog.exists(previous):
            sandbox.terminate(catalog, db, previous)
            renames = 'ALTER DATABASE :"db" RENAME TO :"side";\n' if catalog.exists(db) else ""
            renames += 'ALTER DATABASE :"previous" RENAME TO :"db";\n'
            catalog.sql(f"BEGIN;\n{renames}COMMIT;", {"db": db, "side": side, "previous": previous},
                        "renaming the previous database back")
        # filestore: previous folder back under the live name (the restored one goes back to side)
        if filestore_exists(runner, previous):
            move_folders(runner, (db, side))
            move_folders(runner, (previous, db), missing_ok=False)
        # Once Odoo was being started on the restored copy ("starting"), it may have served
        # users (a deploy, say, before this ran): it is kept as the previous copy, never
        # dropped. Recorded first, so that a recovery interrupted from here on never swaps
        # the kept copy back in.
        state = dict(state, phase="previous-back", keep=state.get("phase") == "starting" and catalog.exists(side))
        journal.write(folder, JOURNAL, state)
    if state["keep"]:
        if catalog.exists(side):
            catalog.sql('ALTER DATABASE :"side" RENAME TO :"previous"', {"side": side, "previous": previous},
                        "keeping the restored copy")
        move_folders(runner, (side, previous))
    kill_point("recovered-previous")
    if state.get("odoo_running", True):
        odoo.start(env, timeout=int(state.get("timeout", 300)), check=False)
    if state["keep"]:
        say(f"the restored copy Odoo may have run on is kept as {previous} (`invoke backups` lists it; "
            "the next restore or --drop-previous drops it)")
    else:
        try:
            drop_copy(runner, catalog, side)
        except DfrError as error:
            say(f"could not remove the side copy {side}: {error}")
    journal.remove(folder, JOURNAL)
    say(f"the previous database {db} and its filestore are back in place")
    return True


def older_previous(catalog, db, keep):
    names = catalog.sql("SELECT datname FROM pg_database WHERE datname LIKE :'pattern' ORDER BY datname",
                        {"pattern": f"{db}\\_prev\\_%"}, "listing previous copies")
    return [n for n in names.splitlines() if n and n != keep]
