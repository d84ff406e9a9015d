"""Coverage-guided fuzzing of the policy loader and host normalisation (atheris).

    ./scripts/fuzz                    # 100,000 inputs
    ./scripts/fuzz -runs=1000000      # any libFuzzer flag

For any input: the YAML loader returns a Policy or raises PolicyError; normalize_host returns
a canonical name (and normalising that again changes nothing) or raises ValueError; a loaded
policy resolves any valid host without another exception.  Anything else is a crash.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from securehttp import Policy, PolicyError
    from securehttp._hosts import normalize_host, parse_pattern


def one_input(data: bytes) -> None:
    # The first byte picks the target, so that seeds reach the one they were written for:
    # 0 the YAML loader, 1 host normalisation, 2 host patterns.
    if not data:
        return
    mode, payload = data[0] % 3, data[1:]
    if mode == 0:
        try:
            policy = Policy.from_yaml(payload, source="fuzz.yaml", base_dir="/nonexistent")
        except PolicyError:
            return
        for host in ("example.com", "a.b.example.com", "127.0.0.1", "[::1]:8443"):
            policy.resolve(host)
        return
    text = payload.decode("utf-8", "replace")
    if mode == 1:
        try:
            canonical, is_ip = normalize_host(text)
        except ValueError:
            return
        if normalize_host(canonical) != (canonical, is_ip):
            raise AssertionError(f"not idempotent: {text!r} -> {canonical!r}")
        return
    try:
        parse_pattern(text)
    except ValueError:
        return


def main() -> None:
    argv = list(sys.argv)
    if not any(a.startswith("-runs=") for a in argv[1:]):
        argv.append("-runs=100000")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
