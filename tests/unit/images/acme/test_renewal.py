"""When the service renews, retries and wakes up (pure decisions on real certificates)."""
import pytest

from dfr_acme import certificate, renewal, settings
from .conftest import make_cert

DAY = 86400


@pytest.fixture
def s(environ):
    return settings.load(environ)


@pytest.fixture
def cert(tmp_path):
    path, _ = make_cert(tmp_path, ["dfr.example.org", "www.dfr.example.org"], days=90)
    return certificate.read(path)


def test_reasons_to_renew(s, cert):
    now = cert.not_before + 10
    meta = {"directory": s.directory}
    assert renewal.due(s, None, {}, {}, now) == "there is no certificate yet"
    assert renewal.due(s, cert, meta, {}, now) is None
    assert "asked for" in renewal.due(s, cert, meta, {"force": True}, now)
    assert "names changed" in renewal.due(s.__class__(**{**s.__dict__, "names": ("dfr.example.org",)}), cert, meta, {}, now)
    assert "ACME_DIRECTORY_URL changed" in renewal.due(s, cert, {"directory": "https://staging.example/dir"}, {}, now)
    # 90-day certificate: renewed 30 days before it expires, not a second earlier
    assert renewal.due(s, cert, meta, {}, cert.not_after - 30 * DAY - 60) is None
    assert "expires in 30.0 days" in renewal.due(s, cert, meta, {}, cert.not_after - 30 * DAY)


def test_short_lived_certificates_renew_at_a_third_of_their_life(s, tmp_path):
    short = certificate.read(make_cert(tmp_path, ["dfr.example.org", "www.dfr.example.org"], days=6)[0])
    assert renewal.threshold(s, short) == pytest.approx(2 * DAY)
    assert renewal.due(s, short, {}, {}, short.not_after - 2 * DAY - 60) is None
    assert renewal.due(s, short, {}, {}, short.not_after - 2 * DAY + 60)


def test_retries_double_up_to_the_check_interval(s):
    assert [renewal.backoff(s, n) for n in (1, 2, 3, 4)] == [600, 1200, 2400, 4800]
    assert renewal.backoff(s, 20) == s.check_interval


def test_wakes_for_the_retry_the_renewal_date_or_the_next_check(s, cert):
    now = cert.not_before + 10
    assert renewal.wake_at(s, cert, {}, now) == now + s.check_interval
    near = cert.not_after - 30 * DAY - 100
    assert renewal.wake_at(s, cert, {}, near) == pytest.approx(cert.not_after - 30 * DAY)
    assert renewal.wake_at(s, cert, {"failures": 2, "next_attempt": now + 1200}, now) == now + 1200
    assert renewal.wake_at(s, None, {}, now) == now + s.check_interval
