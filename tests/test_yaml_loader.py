"""The strict YAML loader: every PyYAML trap is a PolicyError naming file, line, column, key."""

from __future__ import annotations

import datetime
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from securehttp import Policy, PolicyError
from securehttp._keypath import format_path
from securehttp._yaml import MAX_BYTES, load

BILLION_LAUGHS = textwrap.dedent(
    """\
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """
)

# (case, document, line, column, key path, words the message must contain)
TRAPS = [
    ("yaml11-no", "defaults:\n  verify: no\n", 2, 11, "defaults.verify", "YAML 1.1 boolean"),
    ("yaml11-off", "defaults:\n  verify: off\n", 2, 11, "defaults.verify", "YAML 1.1 boolean"),
    ("yaml11-yes", "lock: yes\n", 1, 7, "lock", "YAML 1.1 boolean"),
    ("yaml11-on", "lock: On\n", 1, 7, "lock", "YAML 1.1 boolean"),
    (
        "tls-float",
        "defaults:\n  min_tls: 1.2\n",
        2,
        12,
        "defaults.min_tls",
        'quoted strings, e.g. "1.2"',
    ),
    ("tls-1.10", "defaults:\n  min_tls: 1.10\n", 2, 12, "defaults.min_tls", '"1.10"'),
    ("octal", "version: 0001\n", 1, 10, "version", "not a plain decimal"),
    ("hex", "version: 0x1\n", 1, 10, "version", "not a plain decimal"),
    ("sexagesimal", "version: 1:20\n", 1, 10, "version", "not a plain decimal"),
    (
        "duplicate",
        "version: 1\nlock: false\nlock: true\n",
        3,
        1,
        "lock",
        "duplicate key (first set at line 2)",
    ),
    (
        "dup-host",
        "hosts:\n  a.example: {}\n  a.example: {}\n",
        3,
        3,
        'hosts."a.example"',
        "duplicate key",
    ),
    ("bool-key", "hosts:\n  on: {}\n", 2, 3, "hosts", "key 'on' is not a string"),
    ("int-key", "hosts:\n  127: {}\n", 2, 3, "hosts", "key '127' is not a string"),
    ("null-key", "hosts:\n  null: {}\n", 2, 3, "hosts", "key 'null' is not a string"),
    (
        "python-tag",
        "version: !!python/object/apply:os.system ['true']\n",
        1,
        10,
        "",
        "tags are not allowed",
    ),
    ("binary-tag", "reason: !!binary aGVsbG8=\n", 1, 9, "", "tags are not allowed"),
    ("set-tag", "hosts: !!set {a.example}\n", 1, 8, "", "tags are not allowed"),
    ("str-tag", "reason: !!str x\n", 1, 9, "", "tags are not allowed"),
    ("local-tag", "reason: !mytag x\n", 1, 9, "", "tags are not allowed"),
    ("merge", "base: &b {verify: strict}\ndefaults:\n  <<: *b\n", 3, 3, "defaults", "merge keys"),
    ("two-documents", "version: 1\n---\nversion: 1\n", 2, 1, "", "more than one YAML document"),
    (
        "timestamp",
        "defaults:\n  expires: 2027-03-31 12:00:00\n",
        2,
        12,
        "defaults.expires",
        "only dates",
    ),
    (
        "bad-date",
        "defaults:\n  expires: 2027-02-30\n",
        2,
        12,
        "defaults.expires",
        "not a calendar date",
    ),
    ("syntax", "hosts: [a.example\n", 2, 1, "", "invalid YAML"),
    ("tab", "hosts:\n\ta.example: {}\n", 2, 1, "", "invalid YAML"),
    ("billion-laughs", BILLION_LAUGHS, 6, 23, "", "expands to more than"),
    ("deep-flow", "[" * 30_000 + "]" * 30_000, 1, 17, "", "nested deeper than 16"),
    (
        "deep-block",
        "".join(f"{'  ' * i}k{i}:\n" for i in range(40)) + "  " * 40 + "v: 1\n",
        17,
        33,
        "",
        "nested deeper",
    ),
    (
        "many-aliases",
        "a: &a x\nb: [" + ",".join(["*a"] * 101) + "]\n",
        2,
        305,
        "",
        "more than 100 aliases",
    ),
]


@pytest.mark.parametrize(
    ("document", "line", "column", "key_path", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in TRAPS],
)
def test_trap_is_refused_with_its_position(
    document: str, line: int, column: int, key_path: str, words: str
) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_yaml(document, source="trap.yaml")
    error = info.value
    assert (error.source, error.line, error.column) == ("trap.yaml", line, column)
    assert error.key_path == key_path
    assert words in str(error)
    assert str(error).startswith(f"trap.yaml:{line}:{column}: ")


def test_deep_nesting_does_not_crash_the_interpreter() -> None:
    # The C composer segfaults at this depth; the pre-scan must stop it first.  A crash would
    # take pytest down with it, so this runs in a child process.
    code = (
        "from securehttp import Policy, PolicyError\n"
        "try:\n    Policy.from_yaml('[' * 200000 + ']' * 200000)\n"
        "except PolicyError as e:\n    print('refused:', e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "nested deeper than 16 levels" in result.stdout


def test_alias_bomb_is_refused_quickly() -> None:
    started = time.process_time()
    with pytest.raises(PolicyError, match="expands to more than"):
        Policy.from_yaml(BILLION_LAUGHS)
    # A generous bound: expanding the bomb would take minutes and gigabytes, not seconds.
    assert time.process_time() - started < 10


def test_size_cap_applies_to_text_and_bytes() -> None:
    big = "# " + "x" * MAX_BYTES + "\n"
    with pytest.raises(PolicyError, match="larger than"):
        load(big, "big.yaml")
    with pytest.raises(PolicyError, match="larger than"):
        load(big.encode(), "big.yaml")


def test_invalid_utf8_is_refused_and_a_bom_is_accepted() -> None:
    with pytest.raises(PolicyError, match="not valid UTF-8"):
        load(b"version: 1\nreason: \xff\n", "bin.yaml")
    assert load(b"\xef\xbb\xbfversion: 1\n", "bom.yaml").value == {"version": 1}


@pytest.mark.parametrize("document", ["", "# only a comment\n", "---\n", "\n\n"])
def test_empty_document_is_the_strict_default(document: str) -> None:
    policy = Policy.from_yaml(document)
    assert policy.resolve("example.com").verify == "strict"
    assert policy.hosts == ()


def test_plain_values_load_as_expected() -> None:
    document = load(
        'version: 1\nlock: true\nreason: "yes"\nexpires: 2027-03-31\nlist: [a, "1.2"]\nnothing: ~\n',
        "ok.yaml",
    )
    assert document.value == {
        "version": 1,
        "lock": True,
        "reason": "yes",
        "expires": datetime.date(2027, 3, 31),
        "list": ["a", "1.2"],
        "nothing": None,
    }
    assert document.positions[("expires",)] == (4, 1)


def test_a_few_aliases_are_fine() -> None:
    document = load("a: &pins [x, y]\nb: *pins\n", "ok.yaml")
    assert document.value == {"a": ["x", "y"], "b": ["x", "y"]}


def test_format_path_quotes_keys_that_need_it() -> None:
    assert format_path(("hosts", "a.example", "pins", 1)) == 'hosts."a.example".pins[1]'
    assert format_path(("defaults", "min_tls")) == "defaults.min_tls"
    assert format_path(()) == ""


def test_error_names_the_file_given(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_yaml("defaults:\n  verify: no\n", source=str(tmp_path / "p.yaml"))
    assert str(info.value).startswith(f"{tmp_path / 'p.yaml'}:2:11: defaults.verify: ")
