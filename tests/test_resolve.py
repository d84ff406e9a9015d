"""Layered resolution: precedence per setting, lock, waiver expiry, runtime switch, explain."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest

import securehttp
from securehttp import Policy, PolicyError, PolicyWarning, Verify
from securehttp._resolve import Resolver

TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def days(n: int) -> str:
    return (TODAY + datetime.timedelta(days=n)).isoformat()


def waiver(level: str = "disabled", expires: str | None = None) -> dict[str, object]:
    return {"verify": level, "expires": expires or days(100), "reason": "ticket 1"}


def test_default_is_strict_with_certifi_and_tls12() -> None:
    decision = Policy().resolve("https://example.com/")
    assert decision.verify is Verify.STRICT
    assert decision.trust == ("certifi",)
    assert decision.min_tls == "1.2"
    assert decision.x509_strict is True
    assert decision.pins == ()
    assert decision.rule is None
    assert set(decision.sources.values()) == {"default"}


def test_higher_layer_wins_per_setting() -> None:
    low = Policy.from_dict({"defaults": {"min_tls": "1.3", "x509_strict": True}}, source="low")
    high = Policy.from_dict({"defaults": waiver("warn")}, source="high")
    decision = Resolver((low, high)).resolve("example.com")
    assert decision.verify is Verify.WARN
    assert decision.sources["verify"] == "high defaults"
    assert decision.min_tls == "1.3"
    assert decision.sources["min_tls"] == "low defaults"


def test_host_rule_beats_defaults_of_the_same_layer() -> None:
    policy = Policy.from_dict(
        {"defaults": {"min_tls": "1.3"}, "hosts": {"a.example": {"min_tls": "1.2"}}}
    )
    assert policy.resolve("a.example").min_tls == "1.2"
    assert policy.resolve("b.example").min_tls == "1.3"


def test_higher_layer_defaults_beat_lower_layer_host_rules() -> None:
    # SPEC §4: precedence is by layer first; the table in README says so.
    low = Policy.from_dict({"hosts": {"a.example": waiver()}}, source="low")
    high = Policy.from_dict({"defaults": {"verify": "strict"}}, source="high")
    decision = Resolver((low, high)).resolve("a.example")
    assert decision.verify is Verify.STRICT
    assert decision.rule == "a.example"


def test_lapsed_waiver_falls_back_and_warns_once() -> None:
    policy = Policy.from_dict(
        {"hosts": {"old.example": {**waiver(expires=days(-1)), "min_tls": "1.3"}}}, source="p"
    )
    with pytest.warns(PolicyWarning, match=r"expired on .*old\.example is verified without it"):
        decision = policy.resolve("old.example")
    assert decision.verify is Verify.STRICT
    assert decision.sources["verify"] == "default"
    # Only the weakening lapses: the rule's other settings still apply.
    assert decision.min_tls == "1.3"
    assert decision.expires is None
    # Once per rule: a second host under the same rule does not warn again.
    assert policy.resolve("old.example:8443").verify is Verify.STRICT


def test_waiver_is_valid_through_its_last_day() -> None:
    policy = Policy.from_dict({"hosts": {"a.example": waiver(expires=days(0))}})
    with pytest.warns(PolicyWarning, match="expires on"):
        assert policy.resolve("a.example").verify is Verify.DISABLED


def test_waiver_warns_fourteen_days_ahead_but_not_fifteen() -> None:
    soon = Policy.from_dict({"hosts": {"a.example": waiver(expires=days(14))}}, source="soon")
    with pytest.warns(PolicyWarning, match=f"expires on {days(14)}"):
        assert soon.resolve("a.example").verify is Verify.DISABLED
    later = Policy.from_dict({"hosts": {"a.example": waiver(expires=days(15))}})
    decision = later.resolve("a.example")  # filterwarnings=error: any warning fails here
    assert decision.verify is Verify.DISABLED
    assert decision.expires == TODAY + datetime.timedelta(days=15)
    assert decision.reason == "ticket 1"


def test_lapsed_lower_waiver_exposes_the_layer_below() -> None:
    policy = Policy.from_dict(
        {
            "defaults": waiver("warn", expires=days(200)),
            "hosts": {"a.example": waiver("disabled", expires=days(-3))},
        }
    )
    with pytest.warns(PolicyWarning, match="expired"):
        decision = policy.resolve("a.example")
    assert decision.verify is Verify.WARN


def test_lock_refuses_weakening_from_later_layers_and_names_both() -> None:
    locked = Policy.from_dict({"lock": True}, source="/etc/securehttp/policy.yaml")
    env = Policy.from_dict({"defaults": waiver("disabled")}, source="env-ish")
    resolver = Resolver((locked, env))
    with pytest.warns(PolicyWarning) as caught:
        decision = resolver.resolve("a.example")
    assert decision.verify is Verify.STRICT
    message = str(caught[0].message)
    assert "env-ish defaults" in message
    assert "/etc/securehttp/policy.yaml has `lock: true`" in message


def test_lock_allows_strengthening_from_later_layers() -> None:
    locked = Policy.from_dict({"lock": True}, source="locked")
    later = Policy.from_dict({"defaults": {"min_tls": "1.3"}}, source="later")
    assert Resolver((locked, later)).resolve("a.example").min_tls == "1.3"


def test_lock_keeps_the_locked_files_own_waivers() -> None:
    locked = Policy.from_dict({"lock": True, "hosts": {"a.example": waiver()}}, source="locked")
    assert Resolver((locked,)).resolve("a.example").verify is Verify.DISABLED


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("trust", "system"),
        ("x509_strict", False),
        ("allow_https_to_http_redirect", True),
    ],
)
def test_lock_refuses_each_kind_of_weakening(setting: str, value: object) -> None:
    locked = Policy.from_dict({"lock": True}, source="locked")
    block: dict[str, object] = {setting: value}
    if setting == "x509_strict":
        block.update(expires=days(30), reason="x")
    later = Policy.from_dict({"defaults": block}, source="later")
    with pytest.warns(PolicyWarning, match="refused"):
        decision = Resolver((locked, later)).resolve("a.example")
    assert getattr(decision, setting) == getattr(Policy().resolve("a.example"), setting)


def test_runtime_switch_disables_and_reenables() -> None:
    securehttp.https_verify_certificates(False)
    decision = securehttp.explain("https://example.com/")
    assert decision.verify is Verify.DISABLED
    assert decision.sources["verify"] == "runtime https_verify_certificates(False)"
    securehttp.https_verify_certificates(True)
    decision = securehttp.explain("https://example.com/")
    assert decision.verify is Verify.STRICT
    assert decision.sources["verify"] == "runtime https_verify_certificates(True)"


def test_runtime_switch_is_refused_by_a_locked_file(
    write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy("version: 1\nlock: true\n")
    monkeypatch.setenv("SECUREHTTP_POLICY", str(path))
    securehttp.https_verify_certificates(False)
    with pytest.warns(PolicyWarning, match=r"https_verify_certificates\(False\).*lock: true"):
        assert securehttp.explain("https://example.com/").verify is Verify.STRICT


def test_runtime_switch_does_not_touch_explicit_policies() -> None:
    policy = Policy.from_dict({"defaults": {"min_tls": "1.3"}})
    securehttp.https_verify_certificates(False)
    assert policy.resolve("example.com").verify is Verify.STRICT


def test_explain_uses_environment_and_files(
    write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy('version: 1\nhosts:\n  a.example:\n    min_tls: "1.3"\n')
    monkeypatch.setenv("SECUREHTTP_POLICY", str(path))
    monkeypatch.setenv("SECUREHTTP_MIN_TLS", "1.2")
    decision = securehttp.explain("https://a.example/")
    # The environment is a higher layer than the file: it wins for the setting it sets.
    assert decision.min_tls == "1.2"
    assert decision.sources["min_tls"] == "env SECUREHTTP_MIN_TLS=1.2"
    assert decision.rule == "a.example"


def test_explain_reads_sources_once(
    write_policy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy('version: 1\ndefaults:\n  min_tls: "1.3"\n')
    monkeypatch.setenv("SECUREHTTP_POLICY", str(path))
    assert securehttp.explain("a.example").min_tls == "1.3"
    path.write_text('version: 1\ndefaults:\n  min_tls: "1.2"\n')
    assert securehttp.explain("a.example").min_tls == "1.3"


def test_max_below_min_across_layers_is_a_policy_error() -> None:
    low = Policy.from_dict({"defaults": {"max_tls": "1.2"}}, source="low")
    high = Policy.from_dict({"defaults": {"min_tls": "1.3"}}, source="high")
    with pytest.raises(PolicyError, match=r"max_tls 1\.2 \(low defaults\) is below min_tls 1\.3"):
        Resolver((low, high)).resolve("a.example")


def test_equal_settings_give_one_shared_decision() -> None:
    policy = Policy.from_dict({"hosts": {"**.corp.example": {"min_tls": "1.3"}}})
    first = policy.resolve("a.corp.example")
    assert policy.resolve("b.corp.example") is first
    assert policy.resolve("c.example") == Policy().resolve("c.example")


def test_resolve_accepts_bare_hosts_and_urls() -> None:
    policy = Policy.from_dict({"hosts": {"a.example:8443": {"min_tls": "1.3"}}})
    assert policy.resolve("a.example:8443").min_tls == "1.3"
    assert policy.resolve("https://a.example:8443/x?y#z").min_tls == "1.3"
    assert policy.resolve("a.example").min_tls == "1.2"
    with pytest.raises(ValueError, match="backslash"):
        policy.resolve("https://a.example\\@b.example/")
