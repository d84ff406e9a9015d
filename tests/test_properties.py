"""Property-based tests: for any input the loader gives a Policy or a PolicyError, never
another exception and never a hang; resolving never fails for a valid host."""

from __future__ import annotations

import contextlib
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securehttp import Policy, PolicyError
from securehttp._policy import SETTINGS

KEYS = [
    *SETTINGS,
    "version",
    "lock",
    "defaults",
    "hosts",
    "expires",
    "reason",
    "cert",
    "key",
    "password_env",
    "a.example",
    "*.example.com",
    "**.corp.example",
    "10.0.0.0/8",
    "::1",
    "127.0.0.1:8443",
    "*",
    "on",
    "verfiy",
]
SCALARS = st.one_of(
    st.sampled_from(
        [
            "strict",
            "warn",
            "disabled",
            "1.2",
            "1.3",
            "certifi",
            "system",
            "2027-03-31",
            "no",
            "sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s=",
            "ECDHE+AESGCM",
            "",
        ]
    ),
    st.booleans(),
    st.integers(-5, 5),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.text(max_size=8),
)
documents = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_structure_loads_or_is_a_policy_error(document: object) -> None:
    text = yaml.safe_dump(document, default_flow_style=False)
    try:
        policy = Policy.from_yaml(text, source="prop.yaml", base_dir="/nonexistent")
    except PolicyError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith("prop.yaml")
        return
    for host in ("example.com", "x.corp.example", "10.1.2.3", "[::1]", "127.0.0.1:8443"):
        decision = policy.resolve(host)
        assert set(decision.sources) >= {"verify", "trust", "pins"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "\u00e9\uff61\ufeff&*!|>-?:[]{}#%@`'\"", max_size=200))
def test_any_text_loads_or_is_a_policy_error(text: str) -> None:
    with contextlib.suppress(PolicyError):
        Policy.from_yaml(text, source="prop.yaml", base_dir="/nonexistent")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_load_or_are_a_policy_error(data: bytes) -> None:
    with contextlib.suppress(PolicyError):
        Policy.from_yaml(data, source="prop.yaml", base_dir="/nonexistent")


@settings(max_examples=200, deadline=None)
@given(documents)
def test_any_mapping_through_from_dict_is_a_policy_or_a_policy_error(document: object) -> None:
    data = document if isinstance(document, dict) else {"hosts": document}
    with contextlib.suppress(PolicyError):
        Policy.from_dict(data, base_dir="/nonexistent")
