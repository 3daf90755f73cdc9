"""Writes the labelled PII corpus (`pii.jsonl`) and its term lists (`terms.json`) next to this file.

    .venv/bin/python tests/unit/protect/corpus/make_corpus.py

Deterministic (one seeded generator, no set iteration): running it again rewrites identical files,
and `test_pii_corpus.py` checks that the committed files are what this script produces.

Each line is {"text", "lang", "entities": [{"kind", "value"}]} with entities in text order. Values
that carry a checksum are computed with the same libraries real issuers' numbers satisfy
(`stdnum`, Luhn, `phonenumbers`); look-alikes are made from valid values by breaking the checksum
(and checked to fail), or are dates, amounts, order numbers and version strings. The labels follow
the rules stated in `releve/protect/_pii.py` (a number is a whole run; "version 1.2.3.4" is not an
IP; a number next to a currency is an amount).
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

import phonenumbers
from stdnum import iban, luhn
from stdnum.fr import nir, siren, siret

SEED = 20240915
HERE = Path(__file__).parent

TERMS = {
    "CUSTOMER": ["Durand SA", "Société Générale des Eaux", "Müller GmbH", "Acme Corporation", "Léa Martin-Dubois"],
    "PROJECT": ["Orion", "Projet Hélios", "Blue Falcon", "Cassiopée"],
}

FIRST = ["jean", "marie", "léa", "thomas", "sophie", "nicolas", "camille", "john", "emily", "oliver", "amelia",
         "hugo", "chloé", "james", "olivia"]
LAST = ["dupont", "martin", "bernard", "petit", "lefebvre", "smith", "jones", "taylor", "brown", "moreau",
        "garcia", "roux"]
DOMAINS = ["example.fr", "exemple.com", "orange.fr", "mail.example.co.uk", "entreprise-durand.fr", "acme.io",
           "univ-lyon1.fr", "gmail.com"]

Value = tuple[str, str | None]          # (text to insert, entity kind or None)


# -- valid values -------------------------------------------------------------------------------

def email(rng: random.Random) -> str:
    first, last, domain = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    shapes = [f"{first}.{last}", f"{first[0]}.{last}", f"{first}{rng.randint(1, 99)}", f"{last}+factures",
              f"{first}_{last}", "contact", f"{first}.{last}-{rng.randint(2, 9)}"]
    return f"{rng.choice(shapes)}@{domain}"


def _french_number(rng: random.Random) -> str:
    while True:
        start = rng.choice(["1", "2", "3", "4", "5", "6", "6", "7", "9"])
        digits = "0" + start + "".join(rng.choice("0123456789") for _ in range(8))
        if phonenumbers.is_valid_number(phonenumbers.parse(digits, "FR")):
            return digits


def phone(rng: random.Random) -> str:
    digits = _french_number(rng)
    pairs = [digits[i:i + 2] for i in range(0, 10, 2)]
    national = digits[1:]
    shapes = [" ".join(pairs), ".".join(pairs), digits, "\u00a0".join(pairs), "-".join(pairs),
              "+33 " + national[0] + " " + " ".join(pairs[1:]), "+33 (0)" + national[0] + " " + " ".join(pairs[1:]),
              "+33" + national]
    return rng.choice(shapes)


def phone_international(rng: random.Random) -> str:
    while True:
        region = rng.choice(["GB", "US", "DE", "BE", "CH", "ES", "IT", "CA", "MA", "LU"])
        kind = rng.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
        example = phonenumbers.example_number_for_type(region, kind)
        assert example is not None
        national = str(example.national_number)
        national = national[:-4] + "".join(rng.choice("0123456789") for _ in range(4))
        number = phonenumbers.parse(f"+{example.country_code}{national}", None)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _iban_compact(rng: random.Random) -> str:
    country = rng.choice(["FR", "FR", "FR", "DE", "GB", "ES", "BE", "IT", "NL"])
    for _ in range(1000):
        if country == "FR":
            bank, branch, account = _digits(rng, 5), _digits(rng, 5), _digits(rng, 11)
            key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
            bban = f"{bank}{branch}{account}{key:02d}"
        elif country == "DE":
            bban = _digits(rng, 18)
        elif country == "GB":
            bban = rng.choice(["NWBK", "BARC", "MIDL", "LOYD"]) + _digits(rng, 14)
        elif country == "ES":
            bban = _digits(rng, 20)
        elif country == "BE":
            bban = _digits(rng, 12)
        elif country == "IT":
            bban = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + _digits(rng, 22)
        else:
            bban = rng.choice(["ABNA", "INGB", "RABO"]) + _digits(rng, 10)
        number = country + iban.calc_check_digits(country + "00" + bban) + bban
        if iban.is_valid(number):
            return number
    raise AssertionError(f"no valid {country} IBAN generated")


def iban_value(rng: random.Random) -> str:
    compact = _iban_compact(rng)
    return rng.choice([compact, iban.format(compact), iban.format(compact)])


CARD_PREFIXES = [("4", 16), ("4", 16), ("4", 13), ("51", 16), ("53", 16), ("55", 16), ("2221", 16), ("2720", 16),
                 ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("62", 16), ("36", 14)]


def _card_digits(rng: random.Random) -> str:
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + _digits(rng, length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


def _card_format(rng: random.Random, digits: str) -> str:
    if len(digits) == 15 and rng.random() < 0.7:
        return f"{digits[:4]} {digits[4:10]} {digits[10:]}"
    separator = rng.choice([" ", " ", "-", "", "\u00a0"])
    return separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))


def card(rng: random.Random) -> str:
    return _card_format(rng, _card_digits(rng))


def _nir_digits(rng: random.Random) -> str:
    department = rng.choice([f"{rng.randint(1, 95):02d}" for _ in range(8)] + ["2A", "2B", "99"])
    if department == "20":
        department = "21"
    body = (rng.choice("12") + f"{rng.randint(0, 99):02d}" + f"{rng.randint(1, 12):02d}" + department
            + f"{rng.randint(1, 990):03d}" + f"{rng.randint(1, 999):03d}")
    return body + nir.calc_check_digits(body)


def _nir_format(rng: random.Random, number: str) -> str:
    if rng.random() < 0.35:
        return number
    parts = [number[0], number[1:3], number[3:5], number[5:7], number[7:10], number[10:13], number[13:]]
    return rng.choice([" ", "\u00a0"]).join(parts)


def nir_value(rng: random.Random) -> str:
    return _nir_format(rng, _nir_digits(rng))


def _siren_digits(rng: random.Random) -> str:
    body = rng.choice("123456789") + _digits(rng, 7)
    return body + luhn.calc_check_digit(body)


def _siren_format(rng: random.Random, number: str) -> str:
    return number if rng.random() < 0.4 else f"{number[:3]} {number[3:6]} {number[6:]}"


def siren_value(rng: random.Random) -> str:
    return _siren_format(rng, _siren_digits(rng))


def _siret_digits(rng: random.Random) -> str:
    body = _siren_digits(rng) + _digits(rng, 4)
    return body + luhn.calc_check_digit(body)


def _siret_format(rng: random.Random, number: str) -> str:
    return rng.choice([number, f"{number[:3]} {number[3:6]} {number[6:9]} {number[9:]}", f"{number[:9]} {number[9:]}"])


def siret_value(rng: random.Random) -> str:
    return _siret_format(rng, _siret_digits(rng))


def ip(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if roll < 0.45:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if roll < 0.7:
        return ".".join(str(rng.randint(1, 223)) for _ in range(4))
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    return rng.choice([":".join(groups), f"2001:db8::{groups[0]}", f"fe80::{groups[1]}:{groups[2]}",
                       f"2001:db8:{groups[3]}::{groups[4]}:1", "::1"])


def _term(rng: random.Random, kind: str) -> str:
    term = rng.choice(TERMS[kind])
    plain = term.translate(str.maketrans("éèüÉ", "eeuE"))
    return rng.choice([term, term, term.upper(), term.lower(), plain, plain.lower(), term.replace("-", " "),
                       term.replace(" ", "-")])


# -- look-alikes ----------------------------------------------------------------------------------

def bad_iban(rng: random.Random) -> str:
    compact = _iban_compact(rng)
    check = (int(compact[2:4]) + rng.randint(1, 50)) % 97 + 2
    broken = f"{compact[:2]}{check:02d}{compact[4:]}"
    if iban.is_valid(broken):
        return bad_iban(rng)
    return rng.choice([broken, iban.format(broken)])


def bad_card(rng: random.Random) -> str:
    digits = _card_digits(rng)
    broken = digits[:-1] + str((int(digits[-1]) + rng.randint(1, 9)) % 10)
    assert not luhn.is_valid(broken)
    return _card_format(rng, broken)


def bad_nir(rng: random.Random) -> str:
    number = _nir_digits(rng)
    key = (int(number[13:]) + rng.randint(1, 90)) % 97 + 1
    broken = f"{number[:13]}{key:02d}"
    return bad_nir(rng) if nir.is_valid(broken) else _nir_format(rng, broken)


def bad_siret(rng: random.Random) -> str:
    number = _siret_digits(rng)
    broken = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    assert not siret.is_valid(broken)
    return _siret_format(rng, broken)


def bad_siren(rng: random.Random) -> str:
    number = _siren_digits(rng)
    broken = number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
    assert not siren.is_valid(broken)
    return _siren_format(rng, broken)


def not_phone(rng: random.Random) -> str:
    """Ten digits that are not a phone: not starting with 0, or an unassigned French range."""
    unassigned = "07" + rng.choice("012") + _digits(rng, 7)
    assert not phonenumbers.is_valid_number(phonenumbers.parse(unassigned, "FR"))
    return rng.choice([rng.choice("123456789") + _digits(rng, 9), unassigned,
                       " ".join(unassigned[i:i + 2] for i in range(0, 10, 2))])


def date(rng: random.Random) -> str:
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1990, 2030)
    return rng.choice([
        f"{day:02d}/{month:02d}/{year}", f"{year}-{month:02d}-{day:02d}", f"{day:02d}.{month:02d}.{year}",
        f"{year}-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
        f"{day}/{month}/{year % 100:02d}", f"{year}{month:02d}{day:02d}",
    ])


def amount(rng: random.Random) -> str:
    """Amounts, including nine-digit ones that pass Luhn (a SIREN's shape) next to a currency."""
    luhn_amount = _siren_digits(rng)
    spaced = f"{luhn_amount[:3]} {luhn_amount[3:6]} {luhn_amount[6:]}"
    return rng.choice([
        f"{spaced} €", f"{luhn_amount} EUR", f"$ {luhn_amount}",
        f"{rng.randint(1, 999)} {rng.randint(0, 999):03d},{rng.randint(0, 99):02d} €",
        f"${rng.randint(1, 999)},{rng.randint(0, 999):03d},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}",
        f"{spaced} euros",
        f"{rng.randint(1, 99)} {rng.randint(0, 999):03d} {rng.randint(0, 999):03d} €",
    ])


def order(rng: random.Random) -> str:
    return rng.choice([
        f"CMD-{rng.randint(2019, 2025)}-{_digits(rng, 6)}", f"FAC-{_digits(rng, 8)}", f"#{_digits(rng, 7)}",
        f"PO{_digits(rng, 10)}", f"978-2-{_digits(rng, 2)}-{_digits(rng, 6)}-{rng.randint(0, 9)}",
        f"ticket {rng.choice('ABCDEFGH')}{_digits(rng, 9)}", f"{_digits(rng, 5)}",
    ])


def version(rng: random.Random) -> str:
    quad = ".".join(str(rng.randint(0, 20)) for _ in range(4))
    return rng.choice([f"version {quad}", f"v{quad}", f"release {quad}", f"build {quad}", f"Version: {quad}",
                       f"firmware {quad}", f"section {quad}", f"§ {quad}", f"chapitre {quad}",
                       f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(256, 9999)}.{rng.randint(0, 99)}"])


def bad_ip(rng: random.Random) -> str:
    return rng.choice([f"{rng.randint(256, 999)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
                       f"192.168.{rng.randint(0, 9)}", f"10.0.0.{rng.randint(1, 9)}.{rng.randint(1, 9)}",
                       f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
                       ":".join(f"{rng.randint(0, 255):02X}" for _ in range(6)), "std::vector<int>", "dead::beef",
                       f"192.168.0{rng.randint(1, 9)}.1"])


def not_email(rng: random.Random) -> str:
    name = f"{rng.choice(FIRST)}.{rng.choice(LAST)}"
    return rng.choice([f"{name}@", f"@{rng.choice(LAST)}", f"{name} at example dot com", f"{name}@localhost",
                       "user@host", f"{rng.choice(LAST)} @ {rng.choice(DOMAINS).split('.')[0]}"])


def not_term(rng: random.Random) -> str:
    return rng.choice(["Durandal", "orientation", "Orionis", "héliosphère", "Acme", "Martin", "Blue", "Falcon",
                       "Müller", "société générale", "Cassiopeia", "Durand", "Hélios", "OrionX", "Acme Corp"])


GENERATORS: dict[str, tuple[Callable[[random.Random], str], str | None]] = {
    "EMAIL": (email, "EMAIL"),
    "PHONE": (phone, "PHONE"),
    "PHONE_INTL": (phone_international, "PHONE"),
    "IBAN": (iban_value, "IBAN"),
    "CARD": (card, "CARD"),
    "NIR": (nir_value, "NIR"),
    "SIREN": (siren_value, "SIREN"),
    "SIRET": (siret_value, "SIRET"),
    "IP": (ip, "IP"),
    "CUSTOMER": (lambda rng: _term(rng, "CUSTOMER"), "CUSTOMER"),
    "PROJECT": (lambda rng: _term(rng, "PROJECT"), "PROJECT"),
    "BAD_IBAN": (bad_iban, None),
    "BAD_CARD": (bad_card, None),
    "BAD_NIR": (bad_nir, None),
    "BAD_SIRET": (bad_siret, None),
    "BAD_SIREN": (bad_siren, None),
    "NOT_PHONE": (not_phone, None),
    "DATE": (date, None),
    "AMOUNT": (amount, None),
    "ORDER": (order, None),
    "VERSION": (version, None),
    "BAD_IP": (bad_ip, None),
    "NOT_EMAIL": (not_email, None),
    "NOT_TERM": (not_term, None),
}

# -- templates ----------------------------------------------------------------------------------

SINGLE = {
    "fr": [
        "Pouvez-vous écrire à {EMAIL} pour confirmer le rendez-vous ?",
        "Mon adresse est {EMAIL}, merci de me répondre avant vendredi.",
        "Appelez-moi au {PHONE} après 18 h.",
        "Tél. : {PHONE}",
        "Le numéro du standard ({PHONE}) ne répond plus depuis lundi.",
        "Notre filiale répond au {PHONE_INTL} en semaine.",
        "Merci de faire le virement sur le compte {IBAN} avant la fin du mois.",
        "IBAN : {IBAN}",
        "Le client a payé avec la carte {CARD}, peux-tu vérifier la transaction ?",
        "Numéro de carte : {CARD} (expire fin d'année).",
        "Mon numéro de sécurité sociale est le {NIR}.",
        "NIR du salarié : {NIR}",
        "L'entreprise est immatriculée sous le SIREN {SIREN}.",
        "Fournisseur (SIREN {SIREN}) à ajouter dans l'ERP.",
        "SIRET de l'établissement : {SIRET}",
        "Facturez l'établissement {SIRET} et non le siège.",
        "Le serveur {IP} ne répond plus au ping.",
        "Bloque l'adresse {IP} sur le pare-feu, elle scanne nos ports.",
        "Prépare une synthèse des échanges avec {CUSTOMER} sur le trimestre.",
        "Le contrat {CUSTOMER} arrive à échéance en juin.",
        "Où en est le projet {PROJECT} ?",
        "Le comité de pilotage {PROJECT} est reporté à jeudi.",
    ],
    "en": [
        "Please send the signed quote to {EMAIL} by Friday.",
        "Email: {EMAIL}",
        "Can you call the supplier on {PHONE_INTL} tomorrow morning?",
        "Our Paris office is on {PHONE}.",
        "Phone: {PHONE_INTL}",
        "Wire the deposit to {IBAN}, reference INV-4471.",
        "The refund goes to account {IBAN}.",
        "Card number {CARD} was declined twice.",
        "Customer paid with {CARD} and asked for a receipt.",
        "Employee social security number (NIR): {NIR}",
        "Company registration (SIREN): {SIREN}",
        "Please update the billing entity to SIRET {SIRET}.",
        "The host at {IP} keeps timing out.",
        "Whitelist {IP} for the VPN, please.",
        "Summarise every ticket opened by {CUSTOMER} this year.",
        "{CUSTOMER} wants a discount on the renewal.",
        "Draft the status update for project {PROJECT}.",
        "{PROJECT} is blocked on the security review.",
    ],
}

MULTI = {
    "fr": [
        "Client {CUSTOMER} : contact {EMAIL}, tél. {PHONE}.",
        "Virement de {CUSTOMER} reçu sur {IBAN} le {DATE}.",
        "Fiche salarié — NIR {NIR}, courriel {EMAIL}, portable {PHONE}.",
        "Société {CUSTOMER}, SIRET {SIRET} (SIREN {SIREN}).",
        "Le projet {PROJECT} tourne sur {IP} ; astreinte au {PHONE}.",
        "Remboursement de {AMOUNT} sur la carte {CARD} demandé le {DATE}.",
        "{EMAIL} et {EMAIL} sont en copie du dossier {PROJECT}.",
        "Adresse {IP}, passerelle {IP}, logiciel en {VERSION}.",
    ],
    "en": [
        "Account owner {CUSTOMER}, email {EMAIL}, phone {PHONE_INTL}.",
        "Refund {AMOUNT} to card {CARD}; order {ORDER}.",
        "Project {PROJECT}: staging on {IP}, contact {EMAIL}.",
        "Invoice {ORDER} for SIRET {SIRET}, IBAN {IBAN}, due {DATE}.",
        "Call {PHONE_INTL} or {PHONE} if {IP} goes down again.",
    ],
}

STRUCTURED = {
    "fr": [
        '{"client": "{CUSTOMER}", "email": "{EMAIL}", "iban": "{IBAN}"}',
        "| Nom | Téléphone | NIR |\n|---|---|---|\n| {CUSTOMER} | {PHONE} | {NIR} |",
        "{SIRET}\n{SIREN}\n{DATE}",
        "{PHONE}",
        "- carte : {CARD}\n- commande : {ORDER}\n- montant : {AMOUNT}",
    ],
    "en": [
        "ip={IP} user={EMAIL} card={CARD}",
        "<contact>{EMAIL}</contact><phone>{PHONE_INTL}</phone>",
        "{IBAN}",
        "Log: {DATE} host {IP} {VERSION} ok",
    ],
}

NEGATIVE = {
    "fr": [
        "Le RIB fourni ({BAD_IBAN}) est refusé par la banque : clé incorrecte.",
        "La carte {BAD_CARD} est invalide, demande un autre moyen de paiement.",
        "Le NIR saisi ({BAD_NIR}) a une clé fausse.",
        "Le SIRET {BAD_SIRET} n'existe pas dans la base Sirene.",
        "SIREN erroné : {BAD_SIREN}.",
        "Commande n° {NOT_PHONE} expédiée le {DATE}.",
        "Montant total : {AMOUNT}, payable au {DATE}.",
        "Référence de la facture : {ORDER}.",
        "Mettez à jour le logiciel en {VERSION} avant lundi.",
        "L'adresse {BAD_IP} n'est pas valide.",
        "Écrivez à {NOT_EMAIL} (adresse incomplète).",
        "Le dossier {NOT_TERM} est clos depuis le {DATE}.",
        "Résume ce texte en trois points : le chiffre d'affaires progresse de 12,5 % et la marge de 3 points.",
        "Rendez-vous le {DATE} à 14 h 30, salle 204, bâtiment B.",
        "Le colis {ORDER} pèse 2,5 kg et mesure 40 x 30 x 20 cm.",
        "Traduire en anglais : « Nous vous remercions de votre confiance. »",
        "Le budget prévisionnel est de {AMOUNT} pour l'exercice {DATE}.",
        "Identifiant de ticket {NOT_PHONE}, priorité 2.",
    ],
    "en": [
        "The IBAN {BAD_IBAN} failed validation.",
        "Card {BAD_CARD} fails the Luhn check.",
        "That SIRET ({BAD_SIRET}) looks mistyped.",
        "Tracking number {NOT_PHONE} was delivered on {DATE}.",
        "Total due: {AMOUNT}.",
        "Order {ORDER} ships on {DATE}.",
        "Upgrade to {VERSION} fixes the memory leak.",
        "{BAD_IP} is not an address.",
        "Reach out to {NOT_EMAIL} when it is set up.",
        "Rename the {NOT_TERM} folder.",
        "Write a haiku about autumn leaves and quiet rivers.",
        "Explain the difference between TCP and UDP in two paragraphs.",
        "The meeting moved to {DATE} at 3:30 pm in room 12.",
        "Revenue grew 12.5% to {AMOUNT} while headcount stayed at 1,204.",
        "Python 3.11.4 and Node 20.11.1 are installed; run pytest -k test_42.",
    ],
}

# Truthful labels the detector gets wrong by its stated rules, kept so the figures are not flattering:
# national formats other than French, "00" prefixes, an IP after "build", a card glued to its
# expiry date, and French-looking numbers that are references, not phones.
HARD: list[dict[str, object]] = [
    {"text": "Our London desk is on 020 7946 0958.", "lang": "en",
     "entities": [{"kind": "PHONE", "value": "020 7946 0958"}]},
    {"text": "Call me on 07700 900123 if the train is late.", "lang": "en",
     "entities": [{"kind": "PHONE", "value": "07700 900123"}]},
    {"text": "Depuis l'étranger, composez le 0033 6 12 34 56 78.", "lang": "fr",
     "entities": [{"kind": "PHONE", "value": "0033 6 12 34 56 78"}]},
    {"text": "Le serveur de build 10.20.30.40 est saturé.", "lang": "fr",
     "entities": [{"kind": "IP", "value": "10.20.30.40"}]},
    {"text": "Card 4970 1012 3456 7893 12/27, CVV on the back.", "lang": "en",
     "entities": [{"kind": "CARD", "value": "4970 1012 3456 7893"}]},
    {"text": "Référence dossier : 01 23 45 67 89.", "lang": "fr", "entities": []},
    {"text": "Numéro de contrat 0612345678 (ancien format).", "lang": "fr", "entities": []},
]

_SLOT = re.compile(r"\{([A-Z_]+)\}")


def _snippet(rng: random.Random, template: str, lang: str) -> dict[str, object]:
    entities: list[dict[str, str]] = []
    pieces: list[str] = []
    last = 0
    for slot in _SLOT.finditer(template):
        generate, kind = GENERATORS[slot[1]]
        value = generate(rng)
        pieces += (template[last:slot.start()], value)
        if kind is not None:
            entities.append({"kind": kind, "value": value})
        last = slot.end()
    pieces.append(template[last:])
    return {"text": "".join(pieces), "lang": lang, "entities": entities}


def build() -> dict[str, str]:
    """File name → content."""
    rng = random.Random(SEED)
    lines = []
    for lang in ("fr", "en"):
        for template in SINGLE[lang]:
            lines += [_snippet(rng, template, lang) for _ in range(6)]
        for template in MULTI[lang] + STRUCTURED[lang]:
            lines += [_snippet(rng, template, lang) for _ in range(4)]
        for template in NEGATIVE[lang]:
            lines += [_snippet(rng, template, lang) for _ in range(4)]
    lines += HARD
    corpus = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    terms = json.dumps(TERMS, ensure_ascii=False, indent=2) + "\n"
    return {"pii.jsonl": corpus, "terms.json": terms}


def main() -> None:
    for name, content in build().items():
        (HERE / name).write_text(content, encoding="utf-8", newline="\n")
    print(f"wrote {', '.join(build())} in {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
