"""Every policy in policies/ loads, and decides what its comments say it decides."""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path

import pytest

from securehttp import PolicyWarning, Verify, load_policy
from securehttp._policy import SETTINGS
from securehttp._resolve import WARN_AHEAD_DAYS

from .conftest import POLICIES


def test_every_shipped_policy_is_covered_here() -> None:
    assert sorted(p.name for p in POLICIES.glob("*.yaml")) == [
        "corporate-ca.yaml",
        "loopback-dev.yaml",
        "migration.yaml",
        "pinned-api.yaml",
        "strict.yaml",
    ]


def test_strict_is_the_defaults_written_out(policies_copy: Path) -> None:
    from securehttp import Policy

    policy = load_policy(policies_copy / "strict.yaml")
    decision = policy.resolve("https://example.com/")
    default = Policy().resolve("https://example.com/")
    for name in SETTINGS:
        assert getattr(decision, name) == getattr(default, name), name
    assert decision.sources["verify"].endswith("strict.yaml:12 defaults")


def test_corporate_ca_adds_the_root_beside_certifi(policies_copy: Path) -> None:
    policy = load_policy(policies_copy / "corporate-ca.yaml")
    root = str(policies_copy / "example-corp-root.pem")
    intranet = policy.resolve("https://wiki.corp.example/")
    assert intranet.trust == ("certifi",)
    assert intranet.extra_ca == (root,)
    assert policy.resolve("https://corp.example/").extra_ca == (root,)
    assert policy.resolve("https://10.20.1.2/").trust == (root,)
    outside = policy.resolve("https://example.com/")
    assert outside.extra_ca == ()
    assert outside.trust == ("certifi",)


def test_migration_is_report_only_with_waivers(policies_copy: Path) -> None:
    policy = load_policy(policies_copy / "migration.yaml")
    today = datetime.datetime.now(datetime.timezone.utc).date()
    expected = {
        "https://example.com/": (Verify.WARN, "1.2", datetime.date(2027, 6, 30)),
        "https://legacy.example.org/": (Verify.DISABLED, "1.2", datetime.date(2027, 3, 31)),
        "https://printer.lab.example/": (Verify.WARN, "1.0", datetime.date(2027, 1, 31)),
        "https://api.partner.example/": (Verify.STRICT, "1.2", None),
    }
    for url, (verify, min_tls, waiver_end) in expected.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            decision = policy.resolve(url)
        for warning in caught:  # only expiry warnings, and only near or past the dates
            assert warning.category is PolicyWarning
            assert "expire" in str(warning.message)
        if waiver_end is not None and today > waiver_end:
            continue  # the waiver has lapsed by the time this runs: covered by test_resolve
        assert decision.verify == verify, url
        assert decision.min_tls == min_tls, url
        if waiver_end is not None and (waiver_end - today).days > WARN_AHEAD_DAYS:
            assert not caught, url


def test_pinned_api_has_two_pins_and_tls13(policies_copy: Path) -> None:
    decision = load_policy(policies_copy / "pinned-api.yaml").resolve("https://api.example.com/")
    assert len(decision.pins) == 2
    assert decision.min_tls == "1.3"
    assert decision.verify is Verify.STRICT
    assert load_policy(policies_copy / "pinned-api.yaml").resolve("https://example.com/").pins == ()


@pytest.mark.parametrize(
    "url", ["https://localhost:8443/", "https://127.0.0.1/", "https://127.9.9.9/", "https://[::1]/"]
)
def test_loopback_dev_trusts_the_dev_ca_on_loopback_only(policies_copy: Path, url: str) -> None:
    policy = load_policy(policies_copy / "loopback-dev.yaml")
    decision = policy.resolve(url)
    assert decision.extra_ca == (str(policies_copy / "dev-ca.pem"),)
    assert decision.verify is Verify.STRICT
    assert policy.resolve("https://example.com/").extra_ca == ()
    assert policy.resolve("https://localhost.example.com/").extra_ca == ()
