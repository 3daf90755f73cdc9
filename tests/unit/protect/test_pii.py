"""PiiDetector: each kind, its look-alikes, overlaps between kinds, and configured terms."""

from __future__ import annotations

import time

import pytest

from releve.protect import BUILTIN_KINDS, Finding, PiiDetector

DETECTOR = PiiDetector()


def _found(text: str, detector: PiiDetector = DETECTOR) -> list[tuple[str, str]]:
    findings = detector.find(text)
    for finding in findings:
        assert text[finding.start:finding.end] == finding.value
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:], strict=False))
    return [(finding.kind, finding.value) for finding in findings]


@pytest.mark.parametrize(("kind", "value"), [
    ("EMAIL", "jean.dupont@example.fr"),
    ("EMAIL", "j.martin+factures@mail.example.co.uk"),
    ("EMAIL", "élodie.brun@exemple.fr"),
    ("PHONE", "06 12 34 56 78"),
    ("PHONE", "06.12.34.56.78"),
    ("PHONE", "0612345678"),
    ("PHONE", "01\u00a023\u00a045\u00a067\u00a089"),
    ("PHONE", "+33 6 12 34 56 78"),
    ("PHONE", "+33 (0)6 12 34 56 78"),
    ("PHONE", "+33612345678"),
    ("PHONE", "+44 20 7946 0958"),
    ("PHONE", "+1 (415) 555-2671"),
    ("IBAN", "FR76 3000 6000 0112 3456 7890 189"),
    ("IBAN", "FR7630006000011234567890189"),
    ("IBAN", "DE89 3704 0044 0532 0130 00"),
    ("CARD", "4970 1012 3456 7893"),
    ("CARD", "4970-1012-3456-7893"),
    ("CARD", "4970101234567893"),
    ("CARD", "3782 822463 10005"),
    ("NIR", "2 95 10 99 126 111 93"),
    ("NIR", "295109912611193"),
    ("NIR", "1 84 12 2A 451 089 33"),
    ("SIREN", "732 829 320"),
    ("SIREN", "732829320"),
    ("SIRET", "732 829 320 00074"),
    ("SIRET", "73282932000074"),
    ("IP", "192.168.1.42"),
    ("IP", "2001:db8::1"),
    ("IP", "fe80::1ff:fe23:4567:890a"),
    ("IP", "::ffff:192.0.2.1"),
])
def test_each_kind_is_found_whole(kind: str, value: str) -> None:
    assert _found(f"Valeur : {value}.") == [(kind, value)]
    assert _found(value) == [(kind, value)]


@pytest.mark.parametrize("text", [
    "IBAN FR76 3000 6000 0112 3456 7890 188",          # wrong check digits
    "carte 4970 1012 3456 7890",                       # fails Luhn
    "carte 1234 5678 9012 3452",                       # passes Luhn, no issuer starts with 1
    "NIR 2 95 10 99 126 111 94",                       # wrong key
    "SIRET 732 829 320 00075",                         # fails Luhn (its SIREN part alone does not count)
    "SIREN 732 829 321",
    "commande 4512893301",                             # ten digits, not from 0
    "07 12 34 56 78",                                  # no such French range
    "06 12 34 56 78 90",                               # one pair too many: not a phone
    "le 12/03/2024 à 14:30:45",
    "montant 732 829 320 €", "total $ 4970101234567893", "732829320 EUR",
    "version 1.2.3.4", "release: 10.0.0.1", "section 1.2.3.4", "§ 2.1.4.3", "v1.2.3.4",
    "256.1.1.1", "192.168.001.1", "1.2.3.4.5", "10.0.0",
    "MAC 00:1A:2B:3C:4D:5E", "std::vector", "dead::beef",
    "jean.dupont@", "@dupont", "user@localhost", "@", "a@", "@b.fr",
    "ISBN 978-2-07-036822-8", "EAN 3017620422003",
])
def test_look_alikes_are_not_found(text: str) -> None:
    assert _found(text) == []


def test_every_at_sign_is_tried() -> None:
    assert _found("@dupont a écrit à jean@example.fr et ..@x.fr") == [("EMAIL", "jean@example.fr")]


def test_an_ip_without_a_version_cue_is_an_ip() -> None:
    assert _found("serveur 1.2.3.4, port 8080") == [("IP", "1.2.3.4")]
    assert _found("10.0.0.1:8080") == [("IP", "10.0.0.1")]


def test_siret_wins_over_the_siren_it_contains() -> None:
    assert _found("SIRET 732 829 320 00074 (SIREN 732 829 320)") == [
        ("SIRET", "732 829 320 00074"), ("SIREN", "732 829 320")]


def test_iban_wins_over_a_card_number_inside_it() -> None:
    # Its last 14 digits are a Luhn-valid Diners card number.
    assert _found("Payez sur GB92 NWBK 3600 0000 0000 08 merci") == [("IBAN", "GB92 NWBK 3600 0000 0000 08")]


def test_an_iban_followed_by_a_word_in_capitals_ends_at_its_length() -> None:
    assert _found("FR76 3000 6000 0112 3456 7890 189 EUR") == [("IBAN", "FR76 3000 6000 0112 3456 7890 189")]
    assert _found("DE89 3704 0044 0532 0130 00 CODE") == [("IBAN", "DE89 3704 0044 0532 0130 00")]


def test_a_value_glued_to_a_found_one_is_found_too() -> None:
    """Replacing the first by a placeholder must not uncover the second."""
    assert _found("FR76 3000 6000 0112 3456 7890 189 06 12 34 56 78") == [
        ("IBAN", "FR76 3000 6000 0112 3456 7890 189"), ("PHONE", "06 12 34 56 78")]
    assert _found("+33 6 12 34 56 78+33 6 12 34 56 78") == [("PHONE", "+33 6 12 34 56 78")] * 2
    assert _found("jean@example.fr.06 12 34 56 78") == [("EMAIL", "jean@example.fr"), ("PHONE", "06 12 34 56 78")]


def test_email_wins_over_digits_and_terms_inside_it() -> None:
    detector = PiiDetector({"CUSTOMER": ["Durand"]})
    assert _found("écrire à durand.0612345678@example.fr", detector) == [("EMAIL", "durand.0612345678@example.fr")]


def test_several_kinds_in_one_text_come_in_order() -> None:
    text = ("Client Durand SA (SIRET 732 829 320 00074), contact jean@durand.fr, tél. 06 12 34 56 78, "
            "IBAN FR7630006000011234567890189, serveur 192.168.1.42.")
    detector = PiiDetector({"CUSTOMER": ["Durand SA"]})
    assert [kind for kind, _ in _found(text, detector)] == ["CUSTOMER", "SIRET", "EMAIL", "PHONE", "IBAN", "IP"]


def test_findings_carry_offsets() -> None:
    assert DETECTOR.find("tél. 06 12 34 56 78") == [Finding("PHONE", 5, 19, "06 12 34 56 78")]


def test_terms_ignore_case_accents_and_separators_and_match_whole_words() -> None:
    detector = PiiDetector({"CUSTOMER": ["Société Générale des Eaux", "Durand SA", "Léa Martin-Dubois"],
                            "PROJECT": ["Hélios", "Blue Falcon"]})
    assert _found("SOCIETE GENERALE DES EAUX, durand-sa, lea martin dubois", detector) == [
        ("CUSTOMER", "SOCIETE GENERALE DES EAUX"), ("CUSTOMER", "durand-sa"), ("CUSTOMER", "lea martin dubois")]
    assert _found("projet HELIOS et Blue\u00a0Falcon’s plan", detector) == [
        ("PROJECT", "HELIOS"), ("PROJECT", "Blue\u00a0Falcon")]
    assert _found("Durandal, Héliosphère, Blue, Falcon, Durand", detector) == []


def test_the_longest_term_wins() -> None:
    detector = PiiDetector({"CUSTOMER": ["Durand", "Durand SA"], "PROJECT": ["SA Orion"]})
    assert _found("chez Durand SA Orion", detector) == [("CUSTOMER", "Durand SA")]
    assert _found("chez Durand SAS", detector) == [("CUSTOMER", "Durand")]


def test_terms_survive_letters_that_lower_to_two_characters() -> None:
    detector = PiiDetector({"CUSTOMER": ["Durand"]})
    assert _found("İstanbul: Durand", detector) == [("CUSTOMER", "Durand")]


def test_many_terms_are_one_pattern() -> None:
    names = [f"Client{index:04d}" for index in range(5000)]
    detector = PiiDetector({"CUSTOMER": names})
    text = "Bonjour " * 200 + "client0042 et CLIENT4999."
    started = time.perf_counter()
    assert _found(text, detector) == [("CUSTOMER", "client0042"), ("CUSTOMER", "CLIENT4999")]
    assert time.perf_counter() - started < 0.05


def test_kinds_and_term_kind_names() -> None:
    assert PiiDetector({"CUSTOMER": ["x"], "PROJECT_CODE": []}).kinds == (*BUILTIN_KINDS, "CUSTOMER", "PROJECT_CODE")
    for bad in ("customer", "EMAIL", "A B", "_X", ""):
        with pytest.raises(ValueError, match="term kind"):
            PiiDetector({bad: ["x"]})


def test_blank_terms_are_ignored() -> None:
    assert _found("a - b", PiiDetector({"CUSTOMER": ["", "  ", "-"]})) == []


def test_text_without_personal_data() -> None:
    assert DETECTOR.find("") == []
    assert DETECTOR.find("Write a haiku about autumn. Version 2, 3 stanzas, 17 syllables.") == []


def test_long_digit_runs_stay_fast() -> None:
    """Possessive groups: a "+" and thousands of digits do not make the engine try every split."""
    started = time.perf_counter()
    DETECTOR.find("+" + "1234567890" * 500 + "x " + "1 " * 2000 + "::" + "a:" * 2000)
    assert time.perf_counter() - started < 0.5
