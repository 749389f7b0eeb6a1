"""DFR deployment tasks: `invoke --list` shows them, `invoke --help TASK` their options.

Each task only parses its options and calls one function of the dfr_deploy package.
"""
import functools
import json

from invoke import Exit, task

from dfr_deploy import environments
from dfr_deploy.commands import backup as backup_commands
from dfr_deploy.commands import drill as drill_commands
from dfr_deploy.commands import jobs as job_commands
from dfr_deploy.commands import restore as restore_commands
from dfr_deploy.commands import stack as stack_commands
from dfr_deploy.errors import DfrError

ENV_HELP = "environment: devel, staging or prod"


def one_line_errors(function):
    """Show a DfrError as `error: ...` and exit 1, without a traceback."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DfrError as error:
            raise Exit(f"error: {error}", code=1) from None
    return wrapper


@task(help={
    "tag": "base image tag to provide (default debian:bookworm-slim; debian:trixie-slim works too)",
    "mirror": "Debian mirror for debootstrap (default: this machine's apt sources, else deb.debian.org)",
    "no_pull": "do not try a registry first; build with debootstrap directly",
    "force": "rebuild with debootstrap even if the image exists",
})
@one_line_errors
def img_base(c, tag="debian:bookworm-slim", mirror=None, no_pull=False, force=False):
    """Provide the Debian base image: pull it, or make it with debootstrap (air-gapped)."""
    stack_commands.img_base(tag, mirror=mirror, pull=not no_pull, force=force)


@task(help={
    "env": ENV_HELP + " (decides tags and dev tools; default devel)",
    "service": "only this image: odoo, postgres, nginx, backup, monitoring or acme (default all)",
    "odoo_source": "Odoo source: a folder with odoo-bin, an archive or a URL (default: ODOO_SOURCE, else Odoo's 18.0 archive)",
    "no_cache": "build without Docker's layer cache",
})
@one_line_errors
def img_build(c, env="devel", service=None, odoo_source=None, no_cache=False):
    """Build the images from their Dockerfiles (odoo/, postgres/, nginx/, backup/, monitoring/, acme/)."""
    stack_commands.img_build(environments.resolve(env), stack_commands.image_services(service),
                             odoo_source=odoo_source, no_cache=no_cache)


@task(help={"env": ENV_HELP + " (default prod)", "service": "only this image (default all)"})
@one_line_errors
def img_pull(c, env="prod", service=None):
    """Pull the environment's images from IMAGE_REGISTRY."""
    stack_commands.img_pull(environments.resolve(env), stack_commands.image_services(service))


@task(help={"env": ENV_HELP + " (default prod)", "service": "only this image (default all)"})
@one_line_errors
def img_push(c, env="prod", service=None):
    """Push the environment's images to IMAGE_REGISTRY."""
    stack_commands.img_push(environments.resolve(env), stack_commands.image_services(service))


@task(name="secrets", help={"env": ENV_HELP})
@one_line_errors
def secrets_(c, env):
    """Generate the secret files of an environment, one per secret (never overwrites existing ones)."""
    environment = environments.resolve(env)
    written = stack_commands.make_secrets(environment)
    for path in written:
        print(f"wrote {path} (mode 0600): keep a copy in your password store")
    admin = stack_commands.new_admin_password(written)
    if admin:
        print(f"Odoo's `admin` user of {environment.name} logs in with: {admin}  (shown this once; it stays "
              "in the file above)")
    if not written:
        print(f"secrets of {environment.name} already exist in {environment.secrets_dir}; nothing changed")


@task(help={
    "env": ENV_HELP,
    "build": "build the images first (default: build only missing devel images, pull missing others)",
    "pull": "pull the images first",
    "timeout": "seconds to wait for every service to be healthy (default 900)",
})
@one_line_errors
def deploy(c, env, build=False, pull=False, timeout=900):
    """Bring an environment up and wait until it is healthy; safe to run again."""
    stack_commands.deploy(environments.resolve(env), build=build, pull=pull, timeout=int(timeout))


@task(name="admin-password", help={"env": ENV_HELP})
@one_line_errors
def admin_password(c, env):
    """Give Odoo's `admin` user the environment's generated password (.docker/<env>/admin_user_password)."""
    stack_commands.admin_password(environments.resolve(env))


@task(help={
    "env": ENV_HELP,
    "purge": "also delete the volumes: database, filestore, WAL archive (needs --force outside devel)",
    "force": "confirm --purge outside devel",
})
@one_line_errors
def stop(c, env, purge=False, force=False):
    """Stop an environment (data is kept unless --purge)."""
    stack_commands.stop(environments.resolve(env), purge=purge, force=force)


@task(help={
    "env": ENV_HELP,
    "service": "only this service: db, odoo, nginx, acme, mailcatcher or a monitoring service",
    "tail": "number of lines to show from the end of each log (default 200)",
    "follow": "keep following the logs",
})
@one_line_errors
def logs(c, env, service=None, tail=200, follow=False):
    """Show the logs of an environment."""
    stack_commands.logs(environments.resolve(env), service=service, tail=int(tail), follow=follow)


@task(name="tls", help={
    "env": ENV_HELP,
    "json_": "machine-readable JSON output",
    "renew": "renew now (TLS_MODE=acme); a failure keeps the current certificate",
})
@one_line_errors
def tls_(c, env, json_=False, renew=False):
    """Show the certificate nginx serves: names, issuer, days left, mode, last renewal."""
    environment = environments.resolve(env)
    if renew:
        print(stack_commands.tls_renew(environment))
    report = stack_commands.tls_report(environment)
    print(json.dumps(report, indent=2) if json_ else stack_commands.format_tls(report))


@task(name="status", help={"env": ENV_HELP, "json_": "machine-readable JSON output"})
@one_line_errors
def status_(c, env, json_=False):
    """Services, health, images and URLs of an environment."""
    report = stack_commands.status(environments.resolve(env))
    print(json.dumps(report, indent=2) if json_ else stack_commands.format_status(report))


# ------------------------------------------------------------------------------------ backups


@task(help={
    "env": ENV_HELP,
    "jobs": "parallel pg_dump/zstd jobs (default BACKUP_JOBS, else the number of CPUs up to 8)",
    "no_encrypt": "do not encrypt even if BACKUP_AGE_RECIPIENTS is set",
    "no_offsite": "do not copy to BACKUP_RCLONE_REMOTE even if it is set",
    "prune": "apply the retention (BACKUP_KEEP_DAILY/WEEKLY/MONTHLY) after a good backup",
    "allow_missing": "publish even if attachments are missing from the filestore (they are recorded)",
    "method": "logical (pg_dump, default) or basebackup (pg_basebackup: the start of point-in-time recovery)",
})
@one_line_errors
def backup(c, env, jobs=None, no_encrypt=False, no_offsite=False, prune=False, allow_missing=False,
           method="logical"):
    """Back up an environment: a verified logical set, or a base backup for point-in-time recovery."""
    backup_commands.backup(environments.resolve(env), method=method, jobs=jobs, encrypt=not no_encrypt,
                           copy_offsite=not no_offsite, prune=prune, allow_missing=allow_missing)


@task(name="backups", help={
    "env": ENV_HELP,
    "verify": "check every file's SHA-256 (default: presence and size only)",
    "json_": "machine-readable JSON output",
})
@one_line_errors
def backups_(c, env, verify=False, json_=False):
    """List the backup sets of an environment: time, size, duration, verified, copies."""
    print(backup_commands.backups(environments.resolve(env), verify=verify, json_=json_))


@task(help={
    "env": ENV_HELP,
    "file": "the backup: a set folder (name or path), an Odoo zip, or a pg_dump file (custom or SQL)",
    "identity": "age identity file for an encrypted set (default BACKUP_AGE_IDENTITY)",
    "no_neutralize": "keep mail servers, crons, uuid and secret of the copy (default: neutralized outside prod)",
    "force": "needed to restore into prod",
    "confirm": "the database name, instead of typing it at the prompt (prod only)",
    "drop_previous": "drop the replaced database once the restore succeeded (default: keep it until the next restore)",
    "jobs": "parallel pg_restore jobs (default BACKUP_JOBS, else the number of CPUs up to 8)",
    "timeout": "seconds to wait for Odoo to be healthy on the restored database (default 300)",
    "to_time": "point in time to recover to, e.g. \"2026-11-21 10:32:05+00\" (UTC if no zone); needs base backups",
    "to_lsn": "WAL position to recover to, e.g. 0/3000060",
    "to_xid": "transaction id to recover to (its commit included)",
    "latest": "recover everything the WAL archive holds (after losing the database)",
    "allow_missing": "restore even if attachment files are missing (a pg_dump file holds no filestore: its files "
                     "are taken from the live filestore)",
})
@one_line_errors
def restore(c, env, file=None, identity=None, no_neutralize=False, force=False, confirm=None, drop_previous=False,
            jobs=None, timeout=300, to_time=None, to_lsn=None, to_xid=None, latest=False, allow_missing=False):
    """Restore a backup, or recover to a point in time; the replaced database comes back on failure."""
    restore_commands.restore(environments.resolve(env), file=file, to_time=to_time, to_lsn=to_lsn, to_xid=to_xid,
                            latest=latest, identity=identity, neutralize_copy=False if no_neutralize else None,
                            force=force, confirm=confirm, drop_previous=drop_previous, jobs=jobs,
                            timeout=int(timeout), allow_missing=allow_missing)


@task(name="backup-export", help={
    "env": ENV_HELP,
    "set_": "the set: folder name (see `invoke backups`) or path",
    "format_": "export format: odoo-zip (accepted by `odoo db load` and Odoo's database manager)",
    "output": "file to write (default BACKUP_DIR/exports/<set>.zip)",
    "identity": "age identity file for an encrypted set",
})
@one_line_errors
def backup_export(c, env, set_, format_="odoo-zip", output=None, identity=None):
    """Write a backup set in another format (Odoo's zip)."""
    backup_commands.export(environments.resolve(env), set_, fmt=format_, output=output, identity=identity)


@task(name="backup-prune", help={
    "env": ENV_HELP,
    "dry_run": "only show what would be removed",
    "daily": "daily sets to keep (default BACKUP_KEEP_DAILY, else 7)",
    "weekly": "weekly sets to keep (default BACKUP_KEEP_WEEKLY, else 5)",
    "monthly": "monthly sets to keep (default BACKUP_KEEP_MONTHLY, else 12)",
})
@one_line_errors
def backup_prune(c, env, dry_run=False, daily=None, weekly=None, monthly=None):
    """Remove old backup sets (grandfather-father-son); never the newest verified one."""
    backup_commands.prune(environments.resolve(env), dry_run=dry_run, daily=daily, weekly=weekly, monthly=monthly)


# ------------------------------------------------------------------------ point-in-time recovery


@task(name="wal-status", help={
    "env": ENV_HELP,
    "json_": "machine-readable JSON output",
})
@one_line_errors
def wal_status(c, env, json_=False):
    """The WAL archive: last archived segment and its age, failures, size, oldest segment still needed."""
    print(backup_commands.wal(environments.resolve(env), json_=json_))


# ------------------------------------------------------------------------ jobs and drills


@task(name="backup-drill", help={
    "env": ENV_HELP,
    "set_": "the logical set to drill: folder name (see `invoke backups`) or path (default: the newest verified)",
    "to_time": "drill a point-in-time recovery to this moment instead, e.g. \"2026-11-21 10:32:05+00\"",
    "random_time": "drill a point-in-time recovery to a random moment of the recoverable window",
    "from_offsite": "fetch the set from BACKUP_RCLONE_REMOTE first: prove the copy that survives losing the host",
})
@one_line_errors
def backup_drill(c, env, set_=None, to_time=None, random_time=False, from_offsite=False):
    """Prove a backup restores: into a throwaway stack, Odoo healthy on it, every row and file checked."""
    drill_commands.drill(environments.resolve(env), set_name=set_, to_time=to_time, random_time=random_time,
                         from_offsite=from_offsite)


@task(help={
    "env": ENV_HELP,
    "remove": "remove every timer, unit, cron line and log rotation of this environment's jobs",
    "show": "only show the jobs: schedule, next run, last run and result",
    "root": "file system root to write under (default /; a folder for tests or images)",
    "cron": "use cron even where systemd runs",
    "systemd": "write systemd units even where systemd does not run (with --root)",
})
@one_line_errors
def schedule(c, env, remove=False, show=False, root="/", cron=False, systemd=False):
    """Install the environment's jobs (backups, base backups, drills, WAL checks) as timers or cron lines."""
    environment = environments.resolve(env)
    if show:
        for row in job_commands.show(environment):
            print(json.dumps(row))
        return
    mode = "cron" if cron else "systemd" if systemd else "auto"
    changed = job_commands.schedule(environment, root=root, mode=mode, remove=remove)
    for path in changed:
        print(f"{'removed' if remove else 'wrote'} {path}")
    if not changed:
        print(f"the jobs of {environment.name} are {'not installed' if remove else 'installed already'}; nothing changed")


@task(help={
    "env": ENV_HELP,
    "name": "the job: backup, basebackup, drill or wal-check",
    "notify": "on failure, tell the team (mail, webhook) - for cron; systemd does it with OnFailure=",
})
@one_line_errors
def job(c, env, name, notify=False):
    """Run one scheduled job now, as its timer does (metrics written, the lock waited for)."""
    job_commands.run(environments.resolve(env), name, notify_failure=notify)


@task(help={"env": ENV_HELP, "failed_unit": "the systemd unit that failed (OnFailure= passes it)"})
@one_line_errors
def notify(c, env, failed_unit):
    """Tell the team that a job failed (run by systemd's OnFailure=)."""
    job_commands.failed_unit(environments.resolve(env), failed_unit)
