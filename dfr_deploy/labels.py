"""Docker labels that mark what the tasks create outside the compose file, so that whatever an
interrupted operation left behind can be found and removed by the next one (and never anything
else). Values are the environment's compose project name."""

# Every throwaway container of a backup operation (tools steps, `odoo neutralize` runs) and
# throwaway volumes (base backup verification).
TOOLS = "dfr.backup.project"
# Tools containers of read-only operations (wal-status, listing), which run outside the lock:
# never taken for leftovers of an interrupted operation.
READER = "dfr.backup.reader"
# Which step a tools container runs (for people and for the fault tests).
STEP = "dfr.backup.step"
# Recovered cluster volumes and the temporary servers of point-in-time recoveries.
PITR = "dfr.pitr.project"
# Containers, volumes and networks of a restore drill's throwaway stack (value: the project of
# the environment it drills), so that a killed drill's stack is found and removed.
DRILL = "dfr.drill.of"
