"""The steps every kind of backup set shares (logical.py, basebackup.py): options, the locked
start that puts interrupted runs right, encryption, the clean-up of unpublished folders, and
what happens after publishing (offsite copy, retention)."""
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..progress import say, step
from . import crypto, lock, manifest, offsite, publish, retention_task, settings
from .tools import BACKUPS, Tools


@dataclass
class Plan:
    """What one backup run will do, from its options and the environment's settings."""
    tools: Tools
    jobs: int
    level: int
    remote: str
    prune: bool
    keys: list = field(default_factory=list)
    key_files: list = field(default_factory=list)

    @property
    def encrypting(self):
        return bool(self.keys or self.key_files)

    @property
    def total(self):
        """Steps: 5 of the set itself, then encryption, offsite copy and retention if asked."""
        return 5 + self.encrypting + bool(self.remote) + bool(self.prune)


def plan(env, jobs=None, encrypt=True, copy_offsite=True, prune=False, zstd_level=3):
    keys, key_files = crypto.recipients(env) if encrypt else ([], [])
    return Plan(tools=Tools(env), jobs=settings.jobs(env, jobs), level=settings.zstd_level(env, zstd_level),
                remote=offsite.remote(env) if copy_offsite else "", prune=prune, keys=keys, key_files=key_files)


@contextmanager
def locked_start(env, run, operation):
    """Hold the environment's lock; first put right a restore killed half-way and remove
    unfinished sets of interrupted runs."""
    tools = run.tools
    tools.check_image()
    with lock.held(tools.backup_dir, operation, env.name):
        from .interrupted import put_right   # it imports restore and pitr, which import this module
        put_right(env, tools)
        yield


def encrypt(run, tmp, sealed, data):
    """Encrypt the complete set `tmp` into `sealed/set.tar.age` and return its outer manifest
    (readable without the key, so sets can be listed and pruned; the inner one is inside)."""
    tools = run.tools
    args = ["encrypt", "--src", f"{BACKUPS}/{tmp.name}", "--out", f"{BACKUPS}/{sealed.name}/set.tar.age",
            "--owner", tools.owner]
    mounts = []
    for key in run.keys:
        args += ["--recipient", key]
    for number, path in enumerate(run.key_files):
        mounts.append(f"{path}:{crypto.CONTAINER_DIR}/recipients{number}:ro")
        args += ["--recipients-file", f"{crypto.CONTAINER_DIR}/recipients{number}"]
    tools.helper("age", *args, what="encrypting the set", watch=sealed, extra_mounts=mounts)
    outer = {k: v for k, v in data.items() if k != "files"}
    outer["encrypted"] = {"tool": "age", "recipients": run.keys + [str(p) for p in run.key_files],
                          "content": data["files"]}
    outer["files"] = manifest.hash_files(sealed, run.jobs)
    outer["size_bytes"] = outer["files"]["set.tar.age"]["size"]
    manifest.write(sealed, outer)
    return outer


def publish_set(run, tmp, final, data, name):
    """Seal (when encrypting) and publish the verified set `tmp` as `final`; returns the
    manifest that was published. Step 6 is the encryption."""
    tools = run.tools
    folder = tools.backup_dir
    if not run.encrypting:
        publish.publish(tmp, final, run.jobs)
        return data
    with step(6, run.total, f"encrypting to {len(run.keys) + len(run.key_files)} age recipient(s)"):
        sealed = publish.temp_dir(folder, name + "-age")
        try:
            outer = encrypt(run, tmp, sealed, data)
            publish.publish(sealed, final, run.jobs)
        except BaseException:
            discard_quietly(tools, sealed)
            raise
        publish.discard(tmp, tools.remove)
        return outer


@contextmanager
def building(tools, tmp):
    """While a set is being made in `tmp`: on any failure remove it (nothing half-made stays
    behind) and the tools' private password file, then let the failure through."""
    try:
        yield
    except BaseException:
        discard_quietly(tools, tmp)
        tools.close()
        raise


def write_manifest(run, tmp, data):
    """The SHA-256 and size of every file of the set into its manifest, written into `tmp`."""
    data["files"] = manifest.hash_files(tmp, run.jobs)
    data["size_bytes"] = sum(f["size"] for f in data["files"].values())
    manifest.write(tmp, data)


def discard_quietly(tools, *paths):
    """Remove unpublished folders after a failure; the original failure matters more."""
    for path in paths:
        if path is not None:
            try:
                publish.discard(path, tools.remove)
            except Exception as error:  # noqa: BLE001
                say(f"could not remove {path}: {error}")


def after_publish(env, run, final, prune_title="retention"):
    """Offsite copy and retention (sets, then the WAL no kept base backup needs), numbered
    after the set's own steps."""
    number = 6 + run.encrypting
    try:
        if run.remote:
            with step(number, run.total, f"offsite copy to {run.remote}"):
                offsite.copy(env, run.tools, final)
            number += 1
        if run.prune:
            with step(number, run.total, prune_title):
                retention_task.prune(env, tools=run.tools, locked=True)
    finally:
        run.tools.close()
