"""``securehttp scan PATH...``: find code that turns TLS verification off (SPEC §11).

Exit status: 1 when any finding is not suppressed, 0 otherwise; 2 for a path that does not
exist. A file that cannot be read or parsed is a one-line warning on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from pathlib import Path, PurePath
from typing import Any

from .. import __version__
from .._scan import RULES, Finding, Report, scan
from .common import EXIT_FAILURE, EXIT_OK, add_verbose_option

__all__ = ["register", "to_json", "to_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "scan",
        help="find code that turns TLS verification off, with the policy waiver to use instead",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="Python files or directories")
    p.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text", help="output format"
    )
    add_verbose_option(p)
    p.set_defaults(func=_cmd_scan)


def _cmd_scan(args: argparse.Namespace) -> int:
    report = scan(args.paths)
    for path, why in report.skipped:
        print(f"securehttp: warning: {path}: {why}; not scanned", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(to_json(report), indent=2))
    elif args.format == "sarif":
        print(json.dumps(to_sarif(report), indent=2))
    else:
        _print_text(report)
    return EXIT_FAILURE if report.unsuppressed else EXIT_OK


def _print_text(report: Report) -> None:
    for finding in report.findings:
        mark = f"  [suppressed: {finding.suppressed_by}]" if finding.suppressed else ""
        print(f"{_where(finding)}: {finding.rule} {finding.message}{mark}")
        print("    instead, a waiver in the policy:")
        for line in finding.waiver.splitlines():
            print(f"      {line}")
    suppressed = len(report.findings) - report.unsuppressed
    summary = f"{report.files} file{'s' if report.files != 1 else ''} scanned: "
    if report.findings:
        summary += f"{report.unsuppressed} finding{'s' if report.unsuppressed != 1 else ''}"
        summary += f" ({suppressed} more suppressed)" if suppressed else ""
    else:
        summary += "nothing turns verification off"
    if report.skipped:
        summary += f"; {len(report.skipped)} could not be scanned"
    print(summary)


def _where(finding: Finding) -> str:
    return f"{finding.path}:{finding.line}:{finding.column}"


def to_json(report: Report) -> dict[str, object]:
    return {
        "version": 1,
        "findings": [
            {
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "rule": f.rule,
                "name": RULES[f.rule].name,
                "level": RULES[f.rule].level,
                "message": f.message,
                "suppressed": f.suppressed,
                "suppressed_by": f.suppressed_by,
                "host": f.host,
                "waiver": f.waiver,
            }
            for f in report.findings
        ],
        "summary": {
            "files": report.files,
            "findings": report.unsuppressed,
            "suppressed": len(report.findings) - report.unsuppressed,
            "not_scanned": len(report.skipped),
        },
        "not_scanned": [{"path": path, "why": why} for path, why in report.skipped],
    }


def to_sarif(report: Report) -> dict[str, object]:
    """A SARIF 2.1.0 log with one run; columns count Unicode code points."""
    index = {rule_id: i for i, rule_id in enumerate(RULES)}
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": f"{rule.summary} {rule.fix}"},
            "help": {"text": rule.fix},
            "defaultConfiguration": {"level": rule.level},
        }
        for rule in RULES.values()
    ]
    results = []
    for f in report.findings:
        result: dict[str, object] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": RULES[f.rule].level,
            "message": {"text": f"{f.message}. Instead, a waiver in the policy:\n{f.waiver}"},
            "locations": [_location(f.path, f.line, f.column)],
            "properties": {"waiver": f.waiver, "host": f.host},
        }
        if f.suppressed:
            result["suppressions"] = [{"kind": "inSource", "justification": f.suppressed_by}]
        results.append(result)
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"{why}; not scanned"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(path)}}}],
        }
        for path, why in report.skipped
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "securehttp-scan",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _location(path: str, line: int, column: int) -> dict[str, object]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(path)},
            "region": {"startLine": line, "startColumn": column},
        }
    }


def _uri(path: str) -> str:
    """A URI reference for ``path``: relative paths stay relative (to the working directory)."""
    if Path(path).is_absolute():
        return Path(path).as_uri()
    return urllib.parse.quote(PurePath(path).as_posix())
