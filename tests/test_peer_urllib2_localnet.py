"""CPython's own ``Lib/test/test_urllib2_localnet.py``, run with ``urllib.request.urlopen``
replaced by ``securehttp.urlopen`` (SPEC §1: the drop-in passes it whole).

The suite installs openers, changes ``os.environ`` and starts servers: it runs in a
subprocess of the running interpreter, so none of that reaches this test session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT

RUNNER = r"""
import json, sys, unittest, urllib.request
import securehttp
from test import test_urllib2_localnet as peer

calls = []

def urlopen(*args, **kwargs):
    calls.append(1)
    return securehttp.urlopen(*args, **kwargs)

# The module calls urllib.request.urlopen(...) through the module attribute: swap it.
urllib.request.urlopen = urlopen
suite = unittest.defaultTestLoader.loadTestsFromModule(peer)

def ids(tests):
    for test in tests:
        yield from ids(test) if isinstance(test, unittest.TestSuite) else [test.id()]

cases = sorted(ids(suite))  # before the run, which lets go of each test it ran
result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
print(json.dumps({
    "cases": cases,
    "run": result.testsRun,
    "failures": [test.id() for test, _ in result.failures],
    "errors": [test.id() for test, _ in result.errors],
    "skipped": [test.id() for test, _ in result.skipped],
    "securehttp_calls": len(calls),
}))
"""


def _peer_suite_available() -> bool:
    try:
        return importlib.util.find_spec("test.test_urllib2_localnet") is not None
    except ImportError:
        return False


@pytest.mark.skipif(
    not _peer_suite_available(),
    reason="this interpreter ships no test package (test.test_urllib2_localnet)",
)
def test_cpythons_urllib2_localnet_passes_with_securehttp_urlopen() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["failures"] == [], done.stderr[-3000:]
    assert outcome["errors"] == [], done.stderr[-3000:]
    assert outcome["skipped"] == []
    # 23 tests on 3.10-3.12, 21 on 3.13 (CPython trimmed the module): every one must run.
    assert outcome["run"] == len(outcome["cases"]) >= 21
    # The suite really went through securehttp, the two tests that once failed among it:
    # an installed urllib opener's auth handler, and urllib's header-name spelling.
    assert outcome["securehttp_calls"] >= 15  # 16 on 3.13, 20+ on 3.10-3.12
    names = {case.rpartition(".")[2] for case in outcome["cases"]}
    assert {"test_basic_auth_success", "test_sending_headers_camel"} <= names
