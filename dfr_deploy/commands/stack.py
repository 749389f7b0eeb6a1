"""deploy, stop, logs, status, secrets and images: the stack's tasks."""
from .. import base_image, images, secrets
from ..progress import say, step
from ..backup import settings as backup_settings
from ..errors import DfrError
from ..stack import database, lifecycle, odoo, services, status as stack_status, tls
from ..schedule import notify
from . import door, jobs


def deploy(env, build=False, pull=False, timeout=900):
    """Build or pull, put interrupted work right, bring up, wait until healthy. Safe to run twice."""
    mode = tls.check_settings(env)      # first: staging and prod never run self-signed by accident
    with step(1, 4, f"checking secrets in {env.secrets_dir}"):
        secrets.ensure(env)
    env.metrics_folder.mkdir(parents=True, exist_ok=True)   # bind-mounted by node-exporter
    backup_settings.backup_dir(env)
    with step(2, 4, "preparing images"):
        if build:
            images.build(env)
        elif pull:
            images.pull(env)
        else:
            images.ensure_present(env)
    tls.check_certificate_files(env)    # TLS_MODE=files: a usable certificate of the PKI (nginx image)
    with door.enter(env, "deploy", before="the stack"):
        with step(3, 4, f"starting {env.project_name}"):
            lifecycle.up(env)
        with step(4, 4, "waiting until every service is healthy"):
            services.wait_healthy(env, env.services, timeout)
        if env.bundled_db:
            database.checkpoint(env)
            if env.monitoring:
                database.monitoring_role(env)
        refuse_well_known_admin(env)
    if mode == "acme":
        cert = tls.wait_issued(env, timeout=180)
        if cert:
            say(f"  certificate  {', '.join(cert['names'])} from {cert['issuer']}")
        else:
            say(f"  certificate  not issued yet: nginx serves a temporary self-signed one; see "
                f"`invoke tls --env={env.name}` and `invoke logs --env={env.name} --service=acme`")
    for name, url in env.urls().items():
        say(f"  {name:12} {url}")
    if env.name == "prod" and not notify.channels(env):
        say("WARNING: no SMTP_SERVER with ALERT_EMAIL_TO and no ALERT_WEBHOOK_URL in config/prod.env: alerts and "
            "failed backup jobs would reach nobody")


def refuse_well_known_admin(env):
    """Staging and production never serve an `admin` user with a well-known password: the
    public entry (nginx) is stopped again and the deploy fails, saying how to fix it."""
    if env.name == "devel":
        return
    problem = odoo.admin_login(env, env.get("DB_NAME", "dfr"))
    if problem not in (None, "ok"):
        services.stop(env, "nginx")
        raise DfrError(f"{problem} in {env.name}: nginx was stopped so nobody can use it; set the generated "
                       f"password with `invoke admin-password --env={env.name}` (it is in "
                       f"{env.secrets_dir}/admin_user_password), then deploy again")


def admin_password(env):
    """Store the environment's generated password for Odoo's `admin` user (the running Odoo)."""
    db = env.get("DB_NAME", "dfr")
    with door.enter(env, "admin-password"):
        changed = odoo.set_admin_password(env, db)
    if not changed:
        raise DfrError(f"Odoo of {env.name} is not running: deploy it first (`invoke deploy --env={env.name}`; "
                       "it stops at the well-known password) and retry")
    say(f"Odoo's admin user of {env.name} ({db}) now logs in with the password in {env.secrets_dir}/admin_user_password")


def stop(env, purge=False, force=False):
    """Stop an environment (data kept unless purge)."""
    with door.enter(env, "stop"):
        lifecycle.down(env, purge=purge, force=force)


def tls_report(env):
    return tls.report(env)


def format_tls(report):
    return tls.format_report(report)


def tls_renew(env):
    """Renew now (TLS_MODE=acme); a failure is one line, and the current certificate stays."""
    with door.enter(env, "tls --renew"):
        return tls.renew(env)


def logs(env, service=None, tail=200, follow=False):
    lifecycle.logs(env, service=service, tail=tail, follow=follow)


def status(env):
    report = stack_status.report(env)
    if env.name != "devel" and report["healthy"]:
        login = odoo.admin_login(env, env.get("DB_NAME", "dfr"))
        report["admin_login"] = login if login is not None else "unknown"
    report["jobs"] = jobs.show(env)
    return report


def format_status(report):
    return stack_status.format_report(report)


def make_secrets(env):
    """Generate missing secret files, then check them; returns the files written."""
    written = secrets.generate(env)
    secrets.check(env)
    return written


def new_admin_password(written):
    """The admin user's password when it was just generated (shown once by `invoke secrets`)."""
    for path in written:
        if path.name == "admin_user_password":
            return path.read_text().strip()
    return None


def img_base(tag, mirror=None, pull=True, force=False):
    base_image.ensure(tag, mirror=mirror, pull=pull, force=force)


def img_build(env, services, odoo_source=None, no_cache=False):
    images.build(env, services, odoo_source=odoo_source, no_cache=no_cache)


def img_pull(env, services):
    images.pull(env, services)


def img_push(env, services):
    images.push(env, services)


def image_services(service):
    return images.select(service)
