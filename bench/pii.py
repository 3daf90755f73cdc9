"""Micro-benchmark: how long PII detection and pseudonymisation take per 2 kB prompt, on this machine.

    .venv/bin/python -m bench.pii [--calls 3000]

Prints the median (and 99th percentile) time of `PiiDetector.find` on a 2 kB French and English
prompt without identifiers (dates, amounts, versions, order numbers: the digits that cost
candidate checks) and with ten identifiers of eight kinds, with 200 configured terms; then
`Pseudonymizer.pseudonymize_body` on a chat body carrying the second prompt. The issue's budget
is 1 ms per 2 kB prompt. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from releve.protect import PiiDetector, Pseudonymizer

PROSE = (
    "Bonjour, pouvez-vous résumer le rapport trimestriel du 12/03/2024 ? Le chiffre d'affaires atteint "
    "1 234 567,89 € (+12,5 % sur un an), la marge brute 38,2 % et la version 2.4.1 du logiciel est déployée "
    "sur 3 sites. Please summarise the quarterly report: revenue grew 12.5% year on year, order 4512893301 "
    "shipped on 2024-03-12 at 14:30, ticket #88231 is closed and build 10.0.19041.1 passed. "
)
IDENTIFIERS = (
    "Contact : jean.dupont@example.fr ou 06 12 34 56 78, standard +44 20 7946 0958. Virement sur "
    "FR76 3000 6000 0112 3456 7890 189, carte 4970 1012 3456 7893. SIRET 732 829 320 00074, NIR du gérant "
    "2 95 10 99 126 111 93, serveur 192.168.1.42. Client Durand SA, projet Hélios. "
)
TERMS = {"CUSTOMER": ["Durand SA", *(f"Client Numéro {index}" for index in range(180))],
         "PROJECT": ["Hélios", *(f"Projet-{index}" for index in range(19))]}


def _prompt(head: str) -> str:
    text = head
    while len(text) < 2048:
        text += PROSE
    return text[:2048]


def _times(call: Callable[[], object], calls: int) -> tuple[float, float]:
    """Median and 99th percentile, in microseconds, of single calls after a warm-up."""
    for _ in range(min(200, calls)):
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per case (default 3000)")
    args = parser.parse_args()
    detector = PiiDetector(TERMS)
    plain, rich = _prompt(""), _prompt(IDENTIFIERS)
    assert not detector.find(plain)
    found = detector.find(rich)
    body = {"model": "m", "messages": [{"role": "system", "content": "Tu es un assistant."},
                                       {"role": "user", "content": rich}]}
    cases: list[tuple[str, Callable[[], object]]] = [
        ("find, 2 kB without identifiers", lambda: detector.find(plain)),
        (f"find, 2 kB with {len(found)} identifiers", lambda: detector.find(rich)),
        ("pseudonymize_body, same 2 kB prompt", lambda: Pseudonymizer(detector).pseudonymize_body(body)),
    ]
    print(f"{'case':<42} {'median':>10} {'p99':>10}")
    for name, call in cases:
        median, p99 = _times(call, args.calls)
        print(f"{name:<42} {median:>7.0f} µs {p99:>7.0f} µs")
    print("kinds found:", ", ".join(sorted({finding.kind for finding in found})))


if __name__ == "__main__":
    main()
