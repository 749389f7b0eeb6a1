"""Issue 11's Odoo facts 1-8 against the real Odoo 18.0 (tier real_odoo, needs ODOO_SOURCE): the
same tests as the stand-in's tests/e2e/test_odoo_facts.py (tests/e2e/real_odoo/cases.py), with
`odoo` a devel stack of images built from ODOO_SOURCE (see conftest.py)."""
from .cases import *  # noqa: F401,F403 - the shared tests, collected here
