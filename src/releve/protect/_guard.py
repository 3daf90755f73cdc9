"""The gateway's `DataGuard`: detection and pseudonymisation, as the router asks for them per request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ._pii import PiiDetector
from ._pseudonym import Pseudonymizer, StreamReidentifier

__all__ = ["PseudonymGuard"]


class _Pseudonymized:
    """One request's placeholders: the body a pseudonymised target receives, and the way back."""

    def __init__(self, pseudonymizer: Pseudonymizer, body: dict[str, Any]) -> None:
        self._pseudonymizer = pseudonymizer
        self.body = body

    def reidentify_answer(self, answer: dict[str, Any]) -> dict[str, Any]:
        return self._pseudonymizer.reidentify_body(answer)

    def stream(self) -> StreamReidentifier:
        return self._pseudonymizer.stream()


class PseudonymGuard:
    """Built once from the configured term lists; each call gets its own `Pseudonymizer` (its own placeholders)."""

    def __init__(self, terms: Mapping[str, Sequence[str]] | None = None) -> None:
        self._detector = PiiDetector(terms or {})

    def detect(self, body: dict[str, Any]) -> Mapping[str, int]:
        _, mapping = Pseudonymizer(self._detector).pseudonymize_body(body)
        return dict(Counter(placeholder[1:].rsplit("_", 1)[0] for placeholder in mapping))

    def pseudonymize(self, body: dict[str, Any]) -> _Pseudonymized:
        pseudonymizer = Pseudonymizer(self._detector)
        pseudonymized, _ = pseudonymizer.pseudonymize_body(body)
        return _Pseudonymized(pseudonymizer, pseudonymized)
