"""Restore drills: a backup proved by restoring it into a throwaway stack, the disaster case.

- stack   the throwaway stack: the same images, its own compose project, nothing published,
          no way out; always removed (and found and removed after a kill, by repair)
- checks  what a restored copy must hold: every table's rows as counted at backup time, every
          attachment with its SHA-1
- run     a logical set or a point in time restored, Odoo healthy on it, checked, timed (RTO),
          and the result recorded next to the set
"""
