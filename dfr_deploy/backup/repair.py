"""Putting interrupted work right: what the one door (commands.door) runs, under the lock,
before every operation that changes state.

Every kind of interrupted operation, in this order:
1. a logical restore (its journal): the side copy dropped, or the previous database put back;
2. a point-in-time restore (its journal): the stack pointed back at the replaced volume, keeping
   any volume Odoo may have run on; temporary servers and unused recovered volumes removed;
3. the tools' containers of a killed operation (they may still be running, writing a set or a
   side copy), throwaway volumes, and a killed restore drill's whole stack;
4. unpublished sets and scratch folders (`.tmp-*` in BACKUP_DIR);
5. side databases (and their sandbox roles) that no journal names: left by an older version of
   this tool, which wrote its journal only at the swap.
Cheap when there is nothing to do: a few file lookups and two `docker ps`/`volume ls` calls.
"""
from .. import docker as d
from .. import labels
from ..progress import say
from ..stack import database
from ..stack.database import Catalog
from . import journal, publish, settings
from .drill import stack as drill_stack
from .pitr import swap as pitr_swap
from .restore import swap as restore_swap
from .runner import Runner


def pending_restore(env):
    return journal.read(settings.backup_dir(env, create=False), restore_swap.JOURNAL) is not None


def interrupted(env):
    """What an interrupted operation left that file lookups alone can tell (no docker call):
    swap journals and unfinished sets. Containers and side copies are found by put_right."""
    folder = settings.backup_dir(env, create=False)
    found = []
    if journal.read(folder, restore_swap.JOURNAL):
        found.append("a restore")
    if journal.read(folder, pitr_swap.JOURNAL):
        found.append("a point-in-time restore")
    if folder.exists() and publish.leftovers(folder):
        found.append("an unfinished set")
    return found


def stop_tools(env):
    """Containers and throwaway volumes of the tools that an interrupted operation left."""
    leftover = d.containers_labelled(labels.TOOLS, env.project_name)
    if leftover:
        say(f"removing {len(leftover)} container(s) left by an interrupted operation")
        d.remove_containers(*leftover)
    for name in d.volumes_labelled(labels.TOOLS, env.project_name):
        d.remove_volume(name)


def orphaned_side_copies(env, catalog):
    """Side databases (`<db>_restore_<time>`) with no journal naming them."""
    if catalog.running() is None:
        return []
    db = settings.db_name(env)
    names = catalog.sql("SELECT datname FROM pg_database WHERE datname LIKE :'pattern'"
                        " UNION SELECT rolname FROM pg_roles WHERE rolname LIKE :'pattern'",
                        {"pattern": f"{db}\\_restore\\_%"}, "looking for side copies")
    return sorted({n for n in names.splitlines() if n})


def put_right(env):
    """Put every kind of interrupted operation right (the caller holds the lock)."""
    stop_tools(env)     # first: a killed restore's loader must not write into what is put right
    drill_stack.remove_leftovers(env)
    runner, catalog = Runner(env), Catalog(env)
    try:
        if pending_restore(env):
            runner.check_image()
            if env.bundled_db and catalog.running() is None:
                say("a restore was interrupted: starting the database to put it right")
                database.up(env)
            restore_swap.recover(env, runner, catalog)
        pitr_swap.recover(env, runner)
        folder = settings.backup_dir(env)
        for leftover in publish.leftovers(folder):
            say(f"removing {leftover.name}, left by an interrupted run")
            publish.discard(leftover)
        for name in orphaned_side_copies(env, catalog):
            say(f"removing the side copy {name}, left by an interrupted restore")
            runner.check_image()
            restore_swap.drop_copy(runner, catalog, name)
    finally:
        runner.close()
