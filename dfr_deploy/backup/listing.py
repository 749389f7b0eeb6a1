"""`invoke backups`: the sets of an environment (time, size, duration, verified, copies) and
the previous databases kept by restores."""
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DfrError
from ..progress import human
from ..stack.database import Catalog
from . import manifest, offsite, settings


@dataclass
class Entry:
    name: str
    path: Path
    data: dict = None
    problem: str = ""
    copies: list = field(default_factory=list)
    drill: dict = None      # the last restore drill of this set (drill.json)

    @property
    def verified(self):
        return self.data is not None and not self.problem and bool(self.data.get("verified"))

    @property
    def when(self):
        return manifest.parse_time(self.data["started_at"]) if self.data else None


def quick_problems(path, data):
    """Presence and size of every file (a full SHA-256 check is `--verify`)."""
    issues = []
    for name, info in (data.get("files") or {}).items():
        file = Path(path) / name
        if not file.is_file():
            issues.append(f"{name} is missing")
        elif file.stat().st_size != info["size"]:
            issues.append(f"{name} has the wrong size")
    return issues


def sets(folder, full=False, jobs=2):
    """Every set folder under BACKUP_DIR (hidden/temporary names skipped), oldest first."""
    entries = []
    for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
        if path.name.startswith(".") or path.name == "exports" or not path.is_dir():
            continue
        entry = Entry(path.name, path)
        try:
            entry.data = manifest.load(path)
            issues = manifest.problems(path, entry.data, jobs) if full else quick_problems(path, entry.data)
            entry.problem = "; ".join(issues)
        except DfrError as error:
            entry.problem = str(error)
        entry.copies = offsite.copies(path)
        drills = manifest.load_sidecar(path / "drill.json")
        entry.drill = drills[-1] if drills else None
        entries.append(entry)
    known = [e for e in entries if e.data]
    unknown = [e for e in entries if not e.data]
    return sorted(known, key=lambda e: e.when) + unknown


def previous_databases(env):
    """Databases kept aside by restores (`<db>_prev_<time>`), if the database is running."""
    catalog = Catalog(env)
    try:
        if catalog.running() is None:
            return None
        db = settings.db_name(env)
        out = catalog.sql("SELECT coalesce(json_agg(json_build_object('name', datname, 'size',"
                         " pg_database_size(datname)) ORDER BY datname), '[]') FROM pg_database"
                         " WHERE datname LIKE :'pattern'", {"pattern": f"{db}\\_prev\\_%"},
                         "listing previous databases")
        return json.loads(out)
    except DfrError:
        return None


def report(env, full=False):
    folder = settings.backup_dir(env)
    return {"environment": env.name, "folder": str(folder), "sets": sets(folder, full, settings.jobs(env)),
            "previous": previous_databases(env)}


def format_report(rep):
    lines = [f"backup sets of {rep['environment']} in {rep['folder']}:"]
    if not rep["sets"]:
        lines.append("  none yet: make one with `invoke backup --env=%s`" % rep["environment"])
    for e in rep["sets"]:
        if not e.data:
            lines.append(f"  {e.name:34} NOT A VALID SET: {e.problem}")
            continue
        d = e.data
        state = "verified" if e.verified else f"NOT verified: {e.problem or 'marked unverified'}"
        extra = []
        if d.get("encrypted"):
            extra.append("encrypted")
        missing = len((d.get("filestore") or {}).get("missing") or [])
        if missing:
            extra.append(f"{missing} attachments missing")
        lines.append(f"  {e.name:34} {e.when:%Y-%m-%d %H:%M:%S}Z  {human(d.get('size_bytes', 0)):>9}  "
                     f"{d.get('duration_seconds', 0):>6}s  {d.get('method', '?'):8} {state}"
                     + (f"  [{', '.join(extra)}]" if extra else "")
                     + (f"  copied to: {', '.join(e.copies)}" if e.copies else "")
                     + (f"  {drilled(e.drill)}" if e.drill else ""))
    if rep["previous"]:
        lines.append("previous databases kept by restores (drop with `invoke restore ... --drop-previous`"
                     " or the next restore):")
        lines += [f"  {p['name']:34} {human(p['size']):>9}" for p in rep["previous"]]
    return "\n".join(lines)


def drilled(record):
    """The last drill of a set, as `invoke backups` shows it."""
    result = f"ok, RTO {record['rto_seconds']} s" if record.get("ok") else "FAILED"
    return f"drilled {record.get('at', '?')[:16].replace('T', ' ')} ({record.get('kind', '?')}) {result}"


def as_json(rep):
    return json.dumps({
        "environment": rep["environment"], "folder": rep["folder"],
        "sets": [{"name": e.name, "path": str(e.path), "started_at": e.data and e.data.get("started_at"),
                  "finished_at": e.data and e.data.get("finished_at"),
                  "size_bytes": e.data and e.data.get("size_bytes"),
                  "duration_seconds": e.data and e.data.get("duration_seconds"),
                  "method": e.data and e.data.get("method"), "encrypted": bool(e.data and e.data.get("encrypted")),
                  "verified": e.verified, "problem": e.problem, "copies": e.copies, "last_drill": e.drill}
                 for e in rep["sets"]],
        "previous_databases": rep["previous"]}, indent=2)
