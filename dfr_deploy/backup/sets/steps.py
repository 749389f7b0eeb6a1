"""The steps every kind of set shares (logical.py, basebackup.py): the run's plan from its
options, the clean-up of a set that fails half-way, the manifest, encryption, publishing, and what
follows publishing (offsite copy, retention). The caller has entered the one door
(commands.door): the lock is held and interrupted work has been put right."""
from contextlib import contextmanager
from dataclasses import dataclass, field

from ...progress import say, step
from ...stack.database import Catalog
from .. import crypto, helper_cli, manifest, mounts, offsite, prune, publish, settings
from ..runner import Runner


@dataclass
class Plan:
    """What one backup run will do, from its options and the environment's settings."""
    env: object
    runner: Runner
    catalog: Catalog
    jobs: int
    level: int
    remote: str
    prune: bool
    keys: list = field(default_factory=list)
    key_files: list = field(default_factory=list)

    @property
    def folder(self):
        return settings.backup_dir(self.env)

    @property
    def encrypting(self):
        return bool(self.keys or self.key_files)

    @property
    def total(self):
        """Steps: 5 of the set itself, then encryption, offsite copy and retention if asked."""
        return 5 + self.encrypting + bool(self.remote) + bool(self.prune)


def plan(env, jobs=None, encrypt=True, copy_offsite=True, prune_after=False, zstd_level=3):
    keys, key_files = crypto.recipients(env) if encrypt else ([], [])
    remote = offsite.remote(env) if copy_offsite else ""
    if remote:
        offsite.check_encryption(env, encrypting=bool(keys or key_files))
    runner = Runner(env)
    runner.check_image()
    return Plan(env=env, runner=runner, catalog=Catalog(env), jobs=settings.jobs(env, jobs),
                level=settings.zstd_level(env, zstd_level), remote=remote, prune=prune_after,
                keys=keys, key_files=key_files)


@contextmanager
def building(run, tmp):
    """While a set is being made in `tmp`: on any failure remove it (nothing half-made stays
    behind), then let the failure through."""
    try:
        yield
    except BaseException:
        discard_quietly(tmp)
        raise


def write_manifest(run, tmp, data):
    """The SHA-256 and size of every file of the set into its manifest, written into `tmp`."""
    data["files"] = manifest.hash_files(tmp, run.jobs)
    data["size_bytes"] = sum(f["size"] for f in data["files"].values())
    manifest.write(tmp, data)


def encrypt(run, tmp, sealed, data):
    """Encrypt the complete set `tmp` into `sealed/set.tar.age` and return its outer manifest
    (readable without the key, so sets can be listed and pruned; the inner one is inside)."""
    volumes = [mounts.bind(tmp, mounts.SET), mounts.bind(sealed, mounts.OUT, read_only=False)]
    files = []
    for number, path in enumerate(run.key_files):
        copy = run.runner.credentials.copy(path, mounts.TOOLS_USER)
        target = f"{mounts.CREDENTIALS}/recipients{number}"
        volumes.append(mounts.bind(copy, target))
        files.append(target)
    run.runner.run("age", helper_cli.encrypt(mounts.SET, f"{mounts.OUT}/set.tar.age", run.keys, files),
                   "encrypting the set", watch=sealed, volumes=volumes)
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
    if not run.encrypting:
        publish.publish(tmp, final, run.jobs)
        return data
    with step(6, run.total, f"encrypting to {len(run.keys) + len(run.key_files)} age recipient(s)"):
        sealed = publish.temp_dir(run.folder, name + "-age")
        try:
            outer = encrypt(run, tmp, sealed, data)
            publish.publish(sealed, final, run.jobs)
        except BaseException:
            discard_quietly(sealed)
            raise
        publish.discard(tmp)
        return outer


def discard_quietly(*paths):
    """Remove unpublished folders after a failure; the original failure matters more."""
    for path in paths:
        if path is not None:
            try:
                publish.discard(path)
            except Exception as error:  # noqa: BLE001
                say(f"could not remove {path}: {error}")


def after_publish(env, run, final, prune_title="retention"):
    """Offsite copy and retention (sets, then the WAL no kept base backup needs), numbered
    after the set's own steps."""
    number = 6 + run.encrypting
    if run.remote:
        with step(number, run.total, f"offsite copy to {run.remote}"):
            offsite.copy(env, run.runner, final)
        number += 1
    if run.prune:
        with step(number, run.total, prune_title):
            prune.apply(env, run.runner)
