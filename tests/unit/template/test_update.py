"""Issue 3, test 4: a country project generated from an older tag moves to the current one with
`copier update`: the migration runs, the country's edits survive, the secrets do not change."""
import subprocess

import copier
import pytest
import yaml
from dotenv import dotenv_values

from dfr_deploy import secrets
from tests.template_helpers import BASE_ANSWERS

GIT = ["git", "-c", "user.name=DFR test", "-c", "user.email=dfr@example.org", "-c", "init.defaultBranch=main"]


def git(cwd, *args):
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def template(root, tmp_path):
    """A clone of this repository with the tags v0.1.0 (the last commit at VERSION 0.1.0) and
    v<VERSION> on HEAD, found from the history so that the test needs no pushed tags."""
    clone = tmp_path / "template"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    current = (clone / "VERSION").read_text().strip()
    old = None
    for commit in git(clone, "log", "--format=%H").splitlines():
        if git(clone, "show", f"{commit}:VERSION") == "0.1.0":
            old = commit
            break
    assert old, "no commit with VERSION 0.1.0 in the history (shallow clone?)"
    git(clone, "tag", "-f", "v0.1.0", old)
    git(clone, "tag", "-f", f"v{current}", "HEAD")
    return clone, current


def secret_values(project):
    """{env: {secret name: value}} whichever layout the project has (0.2's env files or files)."""
    out = {}
    for folder in sorted((project / ".docker").iterdir()):
        values = secrets._legacy_values(folder)
        values.update({name: (folder / name).read_text() for name in secrets.FILES if (folder / name).exists()})
        out[folder.name] = {k: v for k, v in values.items() if v}
    return out


def test_update_runs_migration_keeps_edits_and_secrets(template, tmp_path):
    clone, current = template
    project = tmp_path / "dfr-ke"
    copier.run_copy(str(clone), str(project), vcs_ref="v0.1.0", defaults=True, unsafe=True, quiet=True,
                    data={**BASE_ANSWERS, "country_code": "ke", "country_name": "Kenya", "prod_cpus": 8})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v0.1.0" and answers["prod_cpus"] == 8
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "Kenya from dfr-deploy 0.1.0")

    # The country's own work: a private addon, its addons.yaml, and an env override.
    addon = project / "odoo/custom/src/private/dfr_ke_farmers"
    addon.mkdir()
    (addon / "__init__.py").write_text("")
    (addon / "__manifest__.py").write_text("{'name': 'Kenya farmers', 'version': '18.0.1.0.0', 'depends': ['base']}\n")
    with (project / "odoo/custom/src/addons.yaml").open("a") as handle:
        handle.write("# Kenya: OCA server-tools come next quarter\n")
    prod_env = project / "config/prod.env"
    prod_env.write_text(prod_env.read_text().replace("DOMAIN=dfr.ke.example.org", "DOMAIN=dfr.kilimo.go.ke")
                        + "LOG_LEVEL=warn\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "Kenya's addon and settings")
    secrets_before = secret_values(project)
    assert sorted(secrets_before) == ["devel", "prod", "staging"]
    # 0.1.0: the superuser's, the application role's and the master password (no admin user's, no SMTP)
    assert all(len(values) == 3 for values in secrets_before.values())

    copier.run_update(str(project), defaults=True, unsafe=True, overwrite=True, quiet=True, conflict="inline")

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == f"v{current}"
    assert answers["prod_cpu_cores"] == 8 and "prod_cpus" not in answers  # the migration ran
    settings = dotenv_values(prod_env)
    # 8 cores, 16 GB: 2 x 8 + 1 = 17 workers, capped by memory at 13 (the default 4 cores gives 9)
    assert settings["WORKERS"] == "13"
    assert settings["IMAGE_TAG"] == current  # the template's change arrived
    assert settings["DOMAIN"] == "dfr.kilimo.go.ke" and settings["LOG_LEVEL"] == "warn"  # edits survive
    assert "<<<<<<<" not in prod_env.read_text()
    assert (addon / "__manifest__.py").read_text().startswith("{'name': 'Kenya farmers'")
    assert "next quarter" in (project / "odoo/custom/src/addons.yaml").read_text()
    # every secret kept its value (now one file per secret), and the new one was generated
    after = secret_values(project)
    assert {env: {k: v for k, v in values.items() if k in secrets_before[env]} for env, values in after.items()} \
        == secrets_before
    assert all(len(values["admin_user_password"]) >= 32 for values in after.values())
