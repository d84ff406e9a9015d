"""The public names are the contract (SPEC §1): exported, sorted, and nothing private leaks."""

from __future__ import annotations

import urllib.error

import securehttp


def test_all_is_sorted_and_complete() -> None:
    assert securehttp.__all__ == sorted(securehttp.__all__)
    public = {name for name in vars(securehttp) if not name.startswith("_")}
    public -= {"annotations"}  # from __future__
    public -= {"integrations"}  # the subpackage (securehttp.integrations.requests, ...)
    # Made on first use, to keep urllib.request off the import path.
    lazy = {"Request", "HTTPHandler", "HTTPSHandler", "build_opener", "install_opener"}
    lazy |= {"install", "installed", "uninstall"}
    assert set(securehttp.__all__) == public | lazy
    for name in securehttp.__all__:
        assert getattr(securehttp, name) is not None


def test_request_is_urllibs_request_class() -> None:
    import urllib.request

    assert issubclass(securehttp.Request, urllib.request.Request)
    assert securehttp.Request is securehttp.Request
    import pytest

    misspelt = "Clinet"  # a variable: mypy rejects securehttp.Clinet, as it should
    with pytest.raises(AttributeError, match="no attribute 'Clinet'"):
        getattr(securehttp, misspelt)
    assert "Request" in dir(securehttp)


def test_error_tree() -> None:
    assert issubclass(securehttp.PolicyError, securehttp.SecureHTTPError)
    assert issubclass(securehttp.PolicyError, ValueError)
    assert issubclass(securehttp.URLError, urllib.error.URLError)
    assert issubclass(securehttp.InsecureRequestWarning, securehttp.SecureHTTPWarning)
    assert issubclass(securehttp.PolicyWarning, securehttp.SecureHTTPWarning)


def test_policy_error_carries_its_location() -> None:
    error = securehttp.PolicyError(
        "bad", source="p.yaml", line=3, column=5, key_path="defaults.verify"
    )
    assert str(error) == "p.yaml:3:5: defaults.verify: bad"
    assert (error.source, error.line, error.column, error.key_path, error.problem) == (
        "p.yaml",
        3,
        5,
        "defaults.verify",
        "bad",
    )
    assert str(securehttp.PolicyError("bad", source="env X")) == "env X: bad"
