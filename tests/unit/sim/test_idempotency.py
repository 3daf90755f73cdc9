"""The simulator's kept answers per Idempotency-Key: bounded, oldest key forgotten first."""

from __future__ import annotations

from releve.sim._idempotency import IdempotentAnswers, Kept


def test_keeps_at_most_capacity_keys_forgetting_the_oldest_first() -> None:
    answers = IdempotentAnswers(capacity=3)
    for n in range(4):
        answers.keep(("openai", "m", f"k{n}"), Kept(body=f"{n}".encode()))
    assert len(answers) == 3
    assert answers.get(("openai", "m", "k0")) is None
    assert [answers.get(("openai", "m", f"k{n}")) for n in (1, 2, 3)] == [
        Kept(body=b"1"),
        Kept(body=b"2"),
        Kept(body=b"3"),
    ]
    answers.keep(("openai", "m", "k3"), Kept(body=b"again"))  # a known key replaces its answer, forgets nothing
    assert len(answers) == 3 and answers.get(("openai", "m", "k1")) == Kept(body=b"1")


def test_a_key_is_kept_per_family_and_model() -> None:
    answers = IdempotentAnswers()
    answers.keep(("openai", "a", "k"), Kept(body=b"a"))
    assert answers.get(("openai", "b", "k")) is None and answers.get(("anthropic", "a", "k")) is None
