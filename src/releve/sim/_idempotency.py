"""`Idempotency-Key` on the completion endpoints, the way providers that honour it behave.

The first request with a key is executed and its answer kept; a later one with the same key gets the
same answer (`Idempotent-Replayed: true`) without being executed again, which is what lets a caller
that lost an answer (its process died, the connection broke) send the request again safely.

Only executed requests are kept: a fault that stands for the provider being down or unreachable (an
error status, a reset, a hang) executed nothing, so a retry with the same key is executed. A fault
that breaks the answer on its way back (a cut stream, a malformed body) comes after execution: the
answer is kept whole and a retry gets it. A key is scoped to the family and the model, so a gateway
that fails over to another model of the same provider with the same key gets that model's answer.
Streams are kept as their events and replayed as such. At most `capacity` keys, oldest forgotten first.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IDEMPOTENCY_CAPACITY", "IdempotentAnswers", "Kept"]

IDEMPOTENCY_CAPACITY = 10_000

Scope = tuple[str, str | None, str]  # (family, model, key)


@dataclass(frozen=True, slots=True)
class Kept:
    """An executed answer: a whole body, or a stream's events (`content_type` set)."""

    body: bytes | None = None
    events: tuple[bytes, ...] = ()
    content_type: str | None = None


class IdempotentAnswers:
    __slots__ = ("_answers", "capacity")

    def __init__(self, capacity: int = IDEMPOTENCY_CAPACITY) -> None:
        self.capacity = capacity
        self._answers: dict[Scope, Kept] = {}

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, scope: Scope) -> Kept | None:
        return self._answers.get(scope)

    def keep(self, scope: Scope, kept: Kept) -> None:
        answers = self._answers
        if scope not in answers and len(answers) >= self.capacity:
            del answers[next(iter(answers))]  # dicts keep insertion order: the oldest key goes
        answers[scope] = kept
