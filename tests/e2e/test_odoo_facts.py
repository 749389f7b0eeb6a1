"""Issue 11's Odoo facts 1-8, checked against the stand-in on every run (no ODOO_SOURCE needed).

The tests are tests/e2e/real_odoo/cases.py: the real-Odoo tier runs the very same ones against
Odoo 18.0, so a stand-in that drifts from Odoo fails one tier or the other. Here `odoo` is a
devel stack of the stand-in images; the stand-in-only route /dfr_standin/sleep is checked below.
"""
import threading
import time

import pytest

from .http import request
from .real_odoo.cases import *  # noqa: F401,F403 - the shared tests, collected here too
from .real_odoo.odoo_checks import one_off_server, stop


@pytest.fixture(scope="module")
def odoo(make_stack):
    s = make_stack("devel")
    s.deploy()
    return s


def test_standin_sleep_route_holds_a_request_through_a_workers_mode_stop(odoo):
    with one_off_server(odoo, {"WORKERS": "2"}) as (cid, port):
        answers = []
        thread = threading.Thread(target=lambda: answers.append(
            request(port, "/dfr_standin/sleep?seconds=6", tls=False, timeout=60)))
        started = time.monotonic()
        thread.start()
        time.sleep(1)
        took, code = stop(cid, grace=60)
        thread.join(timeout=60)
    assert code == 0 and 4 <= took < 30, took
    assert answers and answers[0][0] == 200 and time.monotonic() - started >= 6
