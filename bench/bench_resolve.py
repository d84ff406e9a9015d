"""Policy lookup cost with many host rules: cached and uncached, in microseconds per lookup.

    python bench/bench_resolve.py [--rules 10000] [--lookups 20000]

Not a test: figures depend on the machine.  Uncached means a fresh resolver per round, so
every lookup parses the URL, normalises the host and walks the index.
"""

from __future__ import annotations

import argparse
import statistics
import time

from securehttp import Policy
from securehttp._hosts import split_url
from securehttp._resolve import Resolver

PIN = "sha256/NNurVHxcTGTksz55l7lmGLNsy8Ob4gdUUnItpdNgJ1s="


def build(rules: int) -> Policy:
    hosts: dict[str, object] = {}
    for i in range(rules):
        kind = i % 4
        if kind == 0:
            hosts[f"host{i}.example.com"] = {"min_tls": "1.3"}
        elif kind == 1:
            hosts[f"*.svc{i}.example.net"] = {"pins": [PIN]}
        elif kind == 2:
            hosts[f"**.zone{i}.example.org"] = {"x509_strict": True}
        else:
            hosts[f"10.{(i >> 8) & 255}.{i & 255}.0/24"] = {"min_tls": "1.3"}
    return Policy.from_dict({"version": 1, "hosts": hosts}, source="bench")


def urls(rules: int, count: int) -> list[str]:
    out = []
    for n in range(count):
        i = (n * 7919) % rules
        out.append(
            [
                f"https://host{i}.example.com/x",
                f"https://a.svc{i}.example.net/x",
                f"https://b.c.zone{i}.example.org/x",
                f"https://10.{(i >> 8) & 255}.{i & 255}.7/x",
                f"https://nomatch{i}.example.io/x",
            ][n % 5]
        )
    return out


def per_lookup_us(fn: object, items: list[str], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(items)  # type: ignore[operator]
        samples.append((time.perf_counter() - started) / len(items) * 1e6)
    return statistics.median(samples)


ROWS = {
    "cold_us": "cold: first host of its rule (URL parse, normalise, index, merge)",
    "uncached_us": "uncached host, its rule merged before (URL parse, normalise, index)",
    "cached_us": "cached, parsed target (what the client does)",
    "cached_url_us": "cached, from a URL string",
}


def measure(rules: int, lookups: int, repeats: int) -> dict[str, float]:
    """Microseconds per lookup for each row of :data:`ROWS`, plus the policy's build time."""
    started = time.perf_counter()
    policy = build(rules)
    built = time.perf_counter() - started
    items = urls(rules, lookups)

    def cold(batch: list[str]) -> None:
        resolver = Resolver((policy,))
        for url in batch:
            resolver.resolve(url)

    # A host never seen before whose rule was already merged for another host: the usual
    # miss (a new name under `**.corp.example`, an address in a known network).
    merged = Resolver((policy,))
    for url in items:
        merged.resolve(url)

    def uncached(batch: list[str]) -> None:
        merged._cache.clear()
        for url in batch:
            merged.resolve(url)

    # Cached: a working set of 1,000 hosts, each resolved before, as a long-running client sees.
    hot = items[:1000] * max(1, len(items) // 1000)
    hot_targets = [split_url(u) for u in hot]
    warm = Resolver((policy,))
    for target in hot_targets:
        warm.resolve_target(target)

    def cached_target(batch: list[str]) -> None:
        for target in hot_targets:
            warm.resolve_target(target)

    def cached_url(batch: list[str]) -> None:
        for url in batch:
            warm.resolve(url)

    return {
        "rules": rules,
        "build_ms": built * 1e3,
        "cold_us": per_lookup_us(cold, items, repeats),
        "uncached_us": per_lookup_us(uncached, items, repeats),
        "cached_us": per_lookup_us(cached_target, hot, repeats),
        "cached_url_us": per_lookup_us(cached_url, hot, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    figures = measure(args.rules, args.lookups, args.repeats)
    print(f"rules: {args.rules}, lookups: {args.lookups}, build: {figures['build_ms']:.0f} ms")
    print("| lookup | µs per lookup (median of repeats) |")
    print("|---|---|")
    for key, label in ROWS.items():
        print(f"| {label} | {figures[key]:.2f} |")


if __name__ == "__main__":
    main()
