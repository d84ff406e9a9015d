"""The benchmark harness still runs (quickest mode). No timing is asserted: only that every
scenario ran, was measured, and measured what it claims (connection reuse checks, bodies read
in full, memory seen, resumption counted by the server)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import ROOT


def test_bench_quick_mode_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--server",
            "python",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "using the fallback Python server" in result.stderr
    data = json.loads(out.read_text())
    rows = data["ratio_to_urllib3"]
    for scenario in (
        "keep-alive small GET",
        "keep-alive 64 KiB GET",
        "new connection, test CA only",
        "new connection, certifi + test CA",
        "8 threads, one client",
        "cold start (fresh process)",
    ):
        assert rows[scenario]["urllib3 PoolManager"] == 1.0
        assert rows[scenario]["securehttp Client"] > 0
    assert not [k for k in data["notes"] if "securehttp" in k], data["notes"]
    assert data["contexts_after_hostnames"]["securehttp Client"] == 1
    assert data["policy_lookup_us"]["cached_us"] > 0
    assert "| keep-alive small GET |" in result.stdout
    assert_large_body(data["large_body"])
    assert_resumption(data["resumption"])
    assert "| chunked, streamed | urllib3 stream(65536) |" in result.stdout
    assert "| TLS 1.2 | urllib3 PoolManager |" in result.stdout


def assert_large_body(figures: dict[str, Any]) -> None:
    """Every client read the body in every variant (the harness checks the byte count), and
    the figures are the ones claimed: CPU spent, and a whole read shows in peak memory."""
    results = figures["results"]
    assert set(results) == {
        f"{variant}, {mode}"
        for variant in ("Content-Length", "chunked")
        for mode in ("whole", "streamed")
    }
    for scenario, row in results.items():
        baseline = "urllib3 .data" if scenario.endswith("whole") else "urllib3 stream(65536)"
        assert row[baseline]["cpu_ratio"] == 1.0
        assert {"securehttp Client .read()", "securehttp Client read(65536) loop"} & set(row)
        # requests and httpx are the optional bench extra: urllib3, urllib and securehttp always.
        peers = sum(importlib.util.find_spec(name) is not None for name in ("requests", "httpx"))
        assert len(row) >= 3 + peers, row
        for client, cell in row.items():
            assert cell["cpu_s"] > 0, (scenario, client)
            if scenario.endswith("whole"):
                # The whole body is held at once: it must show, or memory is not measured.
                assert cell["peak_per_body"] > 0.25, (scenario, client, cell)


def assert_resumption(figures: dict[str, Any]) -> None:
    """Both servers measured; the server-side count sees resumption where it happens (the
    by-hand reference) and sees none where it cannot (urllib3 makes a new context each time)."""
    results = figures["results"]
    assert set(results) == {"TLS 1.3", "TLS 1.2"}
    for row in results.values():
        assert row["urllib3 PoolManager"]["ratio"] == 1.0
        assert row["urllib3 PoolManager"]["resumed"] == 0
        assert row["ssl session= by hand (reference)"]["resumed"] == 1.0
        assert row["securehttp Client"]["seconds"] > 0
        for setting in ("True", "False"):
            cell = row[f"securehttp Client, tls_resumption={setting}"]
            assert cell == "n/a (not implemented)" or cell["seconds"] > 0
