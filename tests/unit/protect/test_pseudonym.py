"""Pseudonymizer: request bodies out with placeholders, answers back with the values."""

from __future__ import annotations

import copy
import json
from typing import Any

from releve.protect import PiiDetector, Pseudonymizer

DETECTOR = PiiDetector({"CUSTOMER": ["Durand SA"], "PROJECT": ["Hélios"]})
EMAIL = "jean.dupont@example.fr"
PHONE = "06 12 34 56 78"
IBAN = "FR76 3000 6000 0112 3456 7890 189"


def _body() -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "temperature": 0.2,
        "tools": [{"type": "function", "function": {"name": "send_mail", "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "system", "content": f"Tu assistes Durand SA. Escalade : {EMAIL}."},
            {"role": "developer", "content": [{"type": "text", "text": f"Projet Hélios, astreinte {PHONE}."}]},
            {"role": "user", "content": [
                {"type": "text", "text": f"Écris à {EMAIL} et rembourse sur {IBAN}."},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "send_mail",
                             "arguments": json.dumps({"to": EMAIL, "body": f"Rappel\nTél. {PHONE}", "siren": 732829320,
                                                      "cc": ["Durand SA <direction@durand.fr>"], "n": 3})},
            }]},
            {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"sent_to": EMAIL, "ok": True})},
            {"role": "tool", "tool_call_id": "call_2", "content": f"Message remis à {EMAIL}"},
            {"role": "user", "content": "Merci, et rappelle-moi au " + PHONE},
        ],
    }


def test_body_is_pseudonymised_everywhere_and_not_mutated() -> None:
    body = _body()
    original = copy.deepcopy(body)
    new, mapping = Pseudonymizer(DETECTOR).pseudonymize_body(body)
    assert body == original
    assert mapping == {"<CUSTOMER_1>": "Durand SA", "<EMAIL_1>": EMAIL, "<PROJECT_1>": "Hélios", "<PHONE_1>": PHONE,
                       "<IBAN_1>": IBAN, "<SIREN_1>": "732829320", "<EMAIL_2>": "direction@durand.fr"}
    text = json.dumps(new, ensure_ascii=False)
    for value in mapping.values():
        assert value not in text
    messages = new["messages"]
    assert messages[0]["content"] == "Tu assistes <CUSTOMER_1>. Escalade : <EMAIL_1>."
    assert messages[1]["content"][0]["text"] == "Projet <PROJECT_1>, astreinte <PHONE_1>."
    assert messages[2]["content"][0]["text"] == "Écris à <EMAIL_1> et rembourse sur <IBAN_1>."
    assert messages[2]["content"][1] == original["messages"][2]["content"][1]
    assert json.loads(messages[3]["tool_calls"][0]["function"]["arguments"]) == {
        "to": "<EMAIL_1>", "body": "Rappel\nTél. <PHONE_1>", "siren": "<SIREN_1>",
        "cc": ["<CUSTOMER_1> <<EMAIL_2>>"], "n": 3}
    assert json.loads(messages[4]["content"]) == {"sent_to": "<EMAIL_1>", "ok": True}
    assert messages[5]["content"] == "Message remis à <EMAIL_1>"
    assert messages[6]["content"] == "Merci, et rappelle-moi au <PHONE_1>"
    assert {key: new[key] for key in ("model", "temperature", "tools")} == {
        key: original[key] for key in ("model", "temperature", "tools")}


def test_every_text_of_the_body_comes_back_with_reidentify_text() -> None:
    body = _body()
    pseudonymizer = Pseudonymizer(DETECTOR)
    new, _ = pseudonymizer.pseudonymize_body(body)
    for before, after in zip(body["messages"], new["messages"], strict=True):
        content = after["content"]
        if isinstance(content, str):
            back = pseudonymizer.reidentify_text(content)
            assert back == before["content"] or json.loads(back) == json.loads(before["content"])
        elif isinstance(content, list):
            assert [pseudonymizer.reidentify_text(p["text"]) for p in content if p["type"] == "text"] == [
                p["text"] for p in before["content"] if p["type"] == "text"]
        for call, original in zip(after.get("tool_calls", []), before.get("tool_calls", []), strict=True):
            back = json.loads(pseudonymizer.reidentify_text(call["function"]["arguments"]))
            assert back == {**json.loads(original["function"]["arguments"]), "siren": "732829320"}


def test_answer_is_reidentified_in_content_and_tool_calls() -> None:
    pseudonymizer = Pseudonymizer(PiiDetector({"CUSTOMER": ['Durand "Frères"']}))
    pseudonymizer.pseudonymize_body({"messages": [{"role": "user", "content": f'{EMAIL}, Durand "Frères"'}]})
    answer = {
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "J'écris à <EMAIL_1> pour <CUSTOMER_1>; <EMAIL_9> est inconnu.",
            "tool_calls": [{"id": "c", "type": "function", "function": {
                "name": "send", "arguments": '{"to": "<EMAIL_1>", "client": "<CUSTOMER_1>"}'}}],
        }}],
        "usage": {"prompt_tokens": 3},
    }
    original = copy.deepcopy(answer)
    back = pseudonymizer.reidentify_body(answer)
    assert answer == original
    message = back["choices"][0]["message"]
    assert message["content"] == f'J\'écris à {EMAIL} pour Durand "Frères"; <EMAIL_9> est inconnu.'
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"to": EMAIL, "client": 'Durand "Frères"'}
    assert back["usage"] == answer["usage"]


def test_same_value_same_placeholder_numbered_per_kind() -> None:
    pseudonymizer = Pseudonymizer(DETECTOR)
    text = pseudonymizer.pseudonymize_text(f"{EMAIL}, a@b.fr, {PHONE}, {EMAIL}")
    assert text == "<EMAIL_1>, <EMAIL_2>, <PHONE_1>, <EMAIL_1>"
    assert pseudonymizer.pseudonymize_text(f"encore {EMAIL}") == "encore <EMAIL_1>"


def test_placeholders_already_in_the_request_are_kept_and_never_reused() -> None:
    pseudonymizer = Pseudonymizer(DETECTOR)
    body = {"messages": [{"role": "user", "content": f"Modèle : « Bonjour <EMAIL_1> » ; envoie à {EMAIL}"},
                         {"role": "user", "content": "et <PHONE_1>, " + PHONE}]}
    new, mapping = pseudonymizer.pseudonymize_body(body)
    assert mapping == {"<EMAIL_2>": EMAIL, "<PHONE_2>": PHONE}
    assert new["messages"][0]["content"] == "Modèle : « Bonjour <EMAIL_1> » ; envoie à <EMAIL_2>"
    assert pseudonymizer.reidentify_text(new["messages"][0]["content"]) == body["messages"][0]["content"]
    assert pseudonymizer.reidentify_text(new["messages"][1]["content"]) == body["messages"][1]["content"]


def test_arguments_that_are_not_json_are_treated_as_text() -> None:
    pseudonymizer = Pseudonymizer(DETECTOR)
    body = {"messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": f'{{"to": "{EMAIL}"'}}]},
        {"role": "assistant", "function_call": {"name": "f", "arguments": json.dumps({"to": EMAIL})}}]}
    new, _ = pseudonymizer.pseudonymize_body(body)
    assert new["messages"][0]["tool_calls"][0]["function"]["arguments"] == '{"to": "<EMAIL_1>"'
    assert json.loads(new["messages"][1]["function_call"]["arguments"]) == {"to": "<EMAIL_1>"}


def test_escaped_json_strings_are_decoded_before_detection() -> None:
    pseudonymizer = Pseudonymizer(DETECTOR)
    arguments = json.dumps({"note": f"tél.\n{PHONE} — {EMAIL}"})           # ensure_ascii: "\u2014", "\n"
    body = {"messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}]}]}
    new, _ = pseudonymizer.pseudonymize_body(body)
    assert json.loads(new["messages"][0]["tool_calls"][0]["function"]["arguments"]) == {
        "note": "tél.\n<PHONE_1> — <EMAIL_1>"}


def test_bodies_without_personal_data_or_messages() -> None:
    pseudonymizer = Pseudonymizer(DETECTOR)
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "Bonjour"}, "odd", {"role": "user"}]}
    new, mapping = pseudonymizer.pseudonymize_body(body)
    assert new == body and mapping == {}
    assert pseudonymizer.pseudonymize_body({"model": "m"}) == ({"model": "m"}, {})
    answer = {"choices": [{"message": {"content": "<EMAIL_1>"}}]}
    assert pseudonymizer.reidentify_body(answer) == answer
    assert pseudonymizer.mapping == {}


def test_reidentify_body_tolerates_odd_shapes() -> None:
    pseudonymizer = Pseudonymizer(DETECTOR)
    pseudonymizer.pseudonymize_text(EMAIL)
    answer: dict[str, Any] = {"choices": [None, {"index": 1}, {"message": {
        "content": None, "refusal": "Je ne peux pas écrire à <EMAIL_1>.",
        "function_call": {"name": "f", "arguments": '{"to": "<EMAIL_1>"}'}, "tool_calls": [None, {"id": "x"}]}}]}
    back = pseudonymizer.reidentify_body(answer)
    message = back["choices"][2]["message"]
    assert back["choices"][:2] == [None, {"index": 1}]
    assert message["refusal"] == f"Je ne peux pas écrire à {EMAIL}."
    assert message["function_call"]["arguments"] == f'{{"to": "{EMAIL}"}}'
    assert message["tool_calls"] == [None, {"id": "x"}]
