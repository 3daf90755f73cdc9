"""Precision and recall of `PiiDetector` per kind over the labelled corpus (corpus/pii.jsonl).

The corpus is synthetic (corpus/make_corpus.py): the figures say the detector keeps its stated
rules on French and English snippets, including look-alikes that fail their checksum, not how it
fares on any client's real traffic. Run with -s to see the table.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import TypedDict

import pytest

from releve.protect import PiiDetector

CORPUS = Path(__file__).parent / "corpus"

# (precision, recall) floors. Checksummed kinds: the bar. Phones miss national formats
# other than French by design; IPs after "build"/"version" are read as versions.
FLOORS = {
    "IBAN": (0.98, 0.95), "CARD": (0.98, 0.95), "NIR": (0.98, 0.95), "SIREN": (0.98, 0.95), "SIRET": (0.98, 0.95),
    "EMAIL": (0.98, 0.95), "PHONE": (0.95, 0.90), "IP": (0.95, 0.90), "CUSTOMER": (0.98, 0.95),
    "PROJECT": (0.98, 0.95),
}


class Entity(TypedDict):
    kind: str
    value: str


class Snippet(TypedDict):
    text: str
    lang: str
    entities: list[Entity]


def _snippets() -> list[Snippet]:
    with (CORPUS / "pii.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _make_corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_files_are_what_the_script_writes() -> None:
    """make_corpus.py is deterministic and the committed files are its output."""
    built = _make_corpus().build()
    for name, content in built.items():
        assert (CORPUS / name).read_text(encoding="utf-8") == content, f"run make_corpus.py: {name} is stale"
    assert built == _make_corpus().build()


def test_corpus_is_large_bilingual_and_well_formed() -> None:
    snippets = _snippets()
    assert len(snippets) >= 300
    assert {s["lang"] for s in snippets} == {"fr", "en"}
    assert sum(1 for s in snippets if not s["entities"]) >= 100
    for snippet in snippets:
        text = snippet["text"]
        position = 0
        for entity in snippet["entities"]:
            found = text.find(entity["value"], position)
            assert found >= 0, (entity, text)
            position = found + len(entity["value"])


def _scores() -> dict[str, tuple[int, int, int]]:
    detector = PiiDetector(json.loads((CORPUS / "terms.json").read_text(encoding="utf-8")))
    true_pos: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    false_neg: Counter[str] = Counter()
    for snippet in _snippets():
        expected = Counter((e["kind"], e["value"]) for e in snippet["entities"])
        found = Counter((f.kind, f.value) for f in detector.find(snippet["text"]))
        for (kind, _), count in (expected & found).items():
            true_pos[kind] += count
        for (kind, _), count in (found - expected).items():
            false_pos[kind] += count
        for (kind, _), count in (expected - found).items():
            false_neg[kind] += count
    kinds = set(true_pos) | set(false_pos) | set(false_neg)
    return {kind: (true_pos[kind], false_pos[kind], false_neg[kind]) for kind in sorted(kinds)}


def test_precision_and_recall_per_kind(capsys: pytest.CaptureFixture[str]) -> None:
    scores = _scores()
    assert set(scores) == set(FLOORS)
    rows = []
    failures = []
    for kind, (tp, fp, fn) in scores.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        rows.append(f"{kind:<9} precision {precision:.3f}  recall {recall:.3f}  (tp {tp}, fp {fp}, fn {fn})")
        floor_precision, floor_recall = FLOORS[kind]
        if precision < floor_precision or recall < floor_recall:
            failures.append(kind)
    with capsys.disabled():
        print("\n" + "\n".join(rows))
    assert not failures, "\n".join(rows)
