"""The benchmark harness still runs (quickest mode). No timing is asserted: only that every
scenario ran, was measured, and measured what it claims (connection reuse checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
