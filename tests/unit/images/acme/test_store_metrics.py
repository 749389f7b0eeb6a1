"""The certificate volume (releases, the live link, modes), the state, and dfr_tls.prom."""
import os
import stat

import pytest

from dfr_acme import certificate, metrics, settings, store
from .conftest import make_cert


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_install_swaps_live_atomically_with_private_modes(tmp_path):
    certs = tmp_path / "certs"
    made = []
    for number in range(5):
        cert, key = make_cert(tmp_path, [f"n{number}.example.org"], name=f"c{number}")
        made.append(store.install(certs, cert.read_bytes(), key.read_bytes(), {"serial": f"{number:012d}x"}))
        live = certs / "live"
        assert os.path.islink(live) and os.readlink(live) == f"releases/{made[-1].name}"
        assert (live / "fullchain.pem").read_bytes() == cert.read_bytes()
    current, meta = store.current(certs)
    assert current.names == ("n4.example.org",) and meta == {"serial": "000000000004x"}
    releases = sorted(p.name for p in (certs / "releases").iterdir())
    assert len(releases) == store.KEEP_RELEASES and made[-1].name in releases
    for folder, dirs, files in os.walk(certs):
        assert mode(folder) == 0o700
        assert all(mode(os.path.join(folder, f)) == 0o600 for f in files if not os.path.islink(os.path.join(folder, f)))


def test_no_live_certificate_reads_as_none(tmp_path):
    assert store.current(tmp_path) == (None, {})


def test_state_round_trip_and_lock(tmp_path):
    store.save_state(tmp_path / "state", {"failures": 2})
    assert store.load_state(tmp_path / "state") == {"failures": 2}
    assert mode(tmp_path / "state" / "state.json") == 0o600
    with store.locked(tmp_path / "state"):
        with pytest.raises(TimeoutError):
            with store.locked(tmp_path / "state", wait=1):
                pass


def test_lock_down_makes_lego_files_private(tmp_path):
    (tmp_path / "lego/accounts/ca").mkdir(parents=True)
    (tmp_path / "lego/accounts/ca/key").write_text("k")
    os.chmod(tmp_path / "lego/accounts/ca/key", 0o644)
    store.lock_down(tmp_path / "lego")
    assert mode(tmp_path / "lego/accounts/ca/key") == 0o600 and mode(tmp_path / "lego/accounts") == 0o700


def test_metrics_file_for_node_exporter(environ, tmp_path):
    s = settings.load(environ)
    cert = certificate.read(make_cert(tmp_path, ["dfr.example.org"])[0])
    path = metrics.write(s, cert, {"last_run": 1000.5, "last_result": 0, "last_duration": 3.2})
    text = path.read_text()
    labels = 'environment="prod",project="dfr-prod"'
    assert f'dfr_tls_cert_not_after_timestamp_seconds{{{labels},name="dfr.example.org"}} {cert.not_after:.17g}' in text
    assert f'dfr_job_last_result{{{labels},job="tls-renew"}} 0' in text
    assert f'dfr_job_last_run_timestamp_seconds{{{labels},job="tls-renew"}} 1000.5' in text
    assert "dfr_job_last_success_timestamp_seconds" not in text      # never succeeded: absent
    assert text.count("# TYPE dfr_job_last_result gauge") == 1 and mode(path) == 0o644
    # before any renewal and without a certificate: an empty file, no made-up values
    assert metrics.render(s, None, {}) == "\n"


def test_metrics_say_the_same_as_the_backup_jobs(root):
    """One HELP text per name across METRICS_DIR: node_exporter refuses two different ones."""
    import sys
    sys.path.insert(0, str(root))
    from dfr_deploy.backup import metrics as job_metrics
    for name, family in job_metrics.JOB.items():
        assert metrics.FAMILIES[name] == family
