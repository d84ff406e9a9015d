"""What the wheel is built from: every package listed, the ready policies shipped from their
one copy in policies/, and the license file the metadata names."""

from __future__ import annotations

import pytest

from .conftest import POLICIES, ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the listing is the same on 3.10


def _pyproject() -> dict[str, object]:
    data: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return data


def _setuptools() -> dict[str, object]:
    tool = _pyproject()["tool"]
    assert isinstance(tool, dict)
    found: dict[str, object] = tool["setuptools"]
    return found


def test_every_package_directory_is_listed() -> None:
    # packages are listed (not found) so that securehttp.policies can come from policies/:
    # a new subpackage missing here would be missing from the wheel.
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "securehttp").rglob("__init__.py")
    }
    listed = set(_setuptools()["packages"])  # type: ignore[call-overload]
    assert on_disk
    assert listed - {"securehttp.policies"} == on_disk


def test_the_policies_ship_from_the_one_copy_in_policies() -> None:
    setuptools = _setuptools()
    data = setuptools["package-data"]
    assert isinstance(data, dict)
    shipped = {
        path.name for pattern in data["securehttp.policies"] for path in POLICIES.glob(pattern)
    }
    assert setuptools["package-dir"] == {"securehttp.policies": "policies"}
    assert not (ROOT / "securehttp" / "policies").exists()  # no second copy
    assert shipped == {p.name for p in POLICIES.iterdir() if p.is_file()}


def test_the_license_file_is_mit_and_named_by_the_metadata() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert (project["license"], project["license-files"]) == ("MIT", ["LICENSE"])
    assert text.startswith("MIT License\n\nCopyright (c) securehttp contributors\n")
    assert "WITHOUT WARRANTY OF ANY KIND" in text
