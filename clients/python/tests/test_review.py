"""Review requests and responses against their schemas, and the Agent Inbox mapping."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from interlude_review import InvalidMessage
from interlude_review.review import (
    approve,
    decisions,
    edit,
    from_human_responses,
    human_interrupts,
    is_review_request,
    reject,
    respond,
)

from test_models import SCHEMAS


def _schema(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / f"{name}.json").read_text()))


def _example(name: str) -> dict:
    return json.loads((SCHEMAS / "examples" / f"{name}.json").read_text())


def test_the_examples_validate() -> None:
    _schema("review_request").validate(_example("review_request"))
    _schema("review_response").validate(_example("review_response"))
    event = _example("interrupt_tool_review")
    _schema("interrupt").validate(event)
    _schema("review_request").validate(event["value"])
    assert is_review_request(event["value"])
    assert not is_review_request({"draft": "Dear Ana"})


def test_what_the_builders_write_validates() -> None:
    answer = decisions(approve(), edit({"city": "Oslo"}), reject(), reject("no"), respond("6 degrees"))
    _schema("review_response").validate(answer)
    assert [d["type"] for d in answer["decisions"]] == ["approve", "edit", "reject", "reject", "respond"]


def test_human_interrupts_carry_the_allowed_decisions_as_flags() -> None:
    rendered = human_interrupts(_example("interrupt_tool_review")["value"])
    assert rendered[0] == {
        "action_request": {"action": "weather", "args": {"city": "Lisbon"}},
        "config": {"allow_accept": True, "allow_edit": True, "allow_respond": True, "allow_ignore": True},
        "description": "The model wants to look up the weather. Run it?",
    }
    assert rendered[1]["config"] == {"allow_accept": True, "allow_edit": True, "allow_respond": False, "allow_ignore": True}
    with pytest.raises(InvalidMessage):
        human_interrupts({"draft": "x"})


def test_human_responses_map_to_decisions() -> None:
    mapped = from_human_responses([
        {"type": "accept", "args": None},
        {"type": "edit", "args": {"action": "weather", "args": {"city": "Oslo"}}},
        {"type": "response", "args": "sunny"},
        {"type": "ignore", "args": None},
    ])
    assert mapped == decisions(approve(), edit({"city": "Oslo"}), respond("sunny"), reject("ignored by the reviewer"))
    _schema("review_response").validate(mapped)
    with pytest.raises(InvalidMessage):
        from_human_responses([{"type": "edit", "args": "not an action"}])
