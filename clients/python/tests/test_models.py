"""The models write exactly what the JSON Schemas in schemas/kafka/ allow, and read the examples back."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from interlude_review import (
    DEAD_LETTER_REASONS,
    REJECTION_REASONS,
    UNSET,
    Cancel,
    Completed,
    DeadLetter,
    Failed,
    Interrupt,
    InvalidMessage,
    Rejected,
    ResolvedInterrupt,
    Resume,
    Run,
    RunConfig,
    Step,
    UpdateState,
    parse_message,
)


def _schemas_folder() -> Path:
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "schemas" / "kafka"
        if (candidate / "resume.json").is_file():
            return candidate
    raise RuntimeError("schemas/kafka not found above the tests folder: run the tests from the Interlude repository")


SCHEMAS = _schemas_folder()
# Schemas of interrupt and resume values, not of messages: checked in test_review.py.
VALUE_SCHEMAS = {"review_request", "review_response"}
NAMES = sorted(path.stem for path in SCHEMAS.glob("*.json") if path.stem not in VALUE_SCHEMAS)
MODELS = {model.type: model for model in (Run, Resume, UpdateState, Cancel, Interrupt, Step, Completed, Failed, Rejected, DeadLetter)}
AT = datetime(2026, 11, 22, 10, 15, tzinfo=timezone.utc)
CHECKPOINT = "019a5c3e-8f00-7000-8000-0123456789ab"


def validate(message: dict) -> None:
    """Validates against the schema named by the message's type, formats included."""
    schema = json.loads((SCHEMAS / f"{message['type']}.json").read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(message)


def test_every_schema_has_a_model_and_an_example() -> None:
    assert set(NAMES) == set(MODELS), "a schema without a model (or a model without a schema): keep models.py in sync"
    for name in NAMES:
        assert (SCHEMAS / "examples" / f"{name}.json").is_file(), f"schemas/kafka/examples/{name}.json is missing"


@pytest.mark.parametrize("name", NAMES)
def test_the_example_validates_and_round_trips_through_its_model(name: str) -> None:
    example = json.loads((SCHEMAS / "examples" / f"{name}.json").read_text())
    validate(example)
    message = parse_message(json.dumps(example).encode())
    assert isinstance(message, MODELS[name])
    assert message.to_dict() == example
    assert json.loads(message.to_json()) == example


BUILT = [
    Run(thread_id="t1", graph="approval", created_at=AT),
    Run(
        thread_id="t1", graph="approval", input={"recipient": "ana@example.com"}, if_busy="restart",
        config=RunConfig(recursion_limit=5, metadata={"user": "ana"}, interrupt_before=["send"], interrupt_after=[]),
    ),
    Resume(thread_id="t1", values={"5f0e2a4c": {"approved": True}}),
    Resume(thread_id="t1", value=None, checkpoint_id=CHECKPOINT),
    Resume.answer_pending("t1", "21"),
    UpdateState(thread_id="t1", values={"draft": "new"}, as_node="draft", continue_run=True),
    UpdateState(thread_id="t1", values=None, as_node="__end__", checkpoint_id=CHECKPOINT),
    Cancel(thread_id="t1"),
    Cancel(thread_id="t1", reason="customer withdrew"),
    Interrupt(id="review-1", thread_id="t1", created_at=AT, graph="approval", graph_version=1, checkpoint_id=CHECKPOINT,
              interrupt_id="1", node="review", value=None, deadline=AT),
    Interrupt(id="review-2", thread_id="t1", created_at=AT, graph="subgraph-review", graph_version=1, checkpoint_id=CHECKPOINT,
              interrupt_id="2", node="review", value={"draft": "d"}, namespace="review:task-1"),
    Step(id="step-x", thread_id="t1", created_at=AT, checkpoint_id=CHECKPOINT, step=-1, status="ready"),
    Step(id="step-y", thread_id="t1", created_at=AT, checkpoint_id=CHECKPOINT, step=3, status="ready", command_id="c1",
         resolved_interrupts=(ResolvedInterrupt("5f0e2a4c", "resolved", "bo"), ResolvedInterrupt("9d1b", "expired", "timeout"),
                              ResolvedInterrupt("77aa", "cancelled"))),
    Completed(id="completed-x", thread_id="t1", created_at=AT, checkpoint_id=CHECKPOINT, values={}),
    Failed(id="failed-x", thread_id="t1", created_at=AT, reason="cancelled", command_id="c1"),
    Rejected(id="rejected-c", thread_id="t1", created_at=AT, command_id="c", reason="unknown_interrupt", message="no"),
    DeadLetter(id="dlq-x-0-1", created_at=AT, original="e30=", topic="x", partition=0, offset=1, reason="unknown_type", detail="d"),
]


def test_the_subgraph_interrupt_example_carries_its_namespace() -> None:
    example = json.loads((SCHEMAS / "examples" / "interrupt-subgraph.json").read_text())
    validate(example)
    message = parse_message(json.dumps(example).encode())
    assert isinstance(message, Interrupt)
    assert message.namespace == example["namespace"]
    assert message.to_dict() == example


@pytest.mark.parametrize("message", BUILT, ids=lambda m: type(m).__name__)
def test_what_the_models_write_validates_against_the_schema(message) -> None:
    wire = json.loads(message.to_json())
    validate(wire)
    assert parse_message(wire) == message


def test_timestamps_are_utc_with_milliseconds() -> None:
    run = Run(thread_id="t", graph="g", created_at=datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone.utc))
    assert run.to_dict()["created_at"] == "2026-01-02T03:04:05.678Z"


def test_the_reason_tables_list_exactly_the_schema_codes() -> None:
    rejected = json.loads((SCHEMAS / "rejected.json").read_text())["properties"]["reason"]["enum"]
    dead = json.loads((SCHEMAS / "dead_letter.json").read_text())["properties"]["reason"]["enum"]
    assert sorted(REJECTION_REASONS) == sorted(rejected)
    assert sorted(DEAD_LETTER_REASONS) == sorted(dead)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Run(thread_id="", graph="approval"), "thread_id"),
        (lambda: Run(thread_id="t", graph=""), "graph"),
        (lambda: Run(thread_id="t", graph="g", id="x" * 257), "id"),
        (lambda: Run(thread_id="t\n1", graph="g"), "thread_id"),
        (lambda: Run(thread_id="t", graph="g", if_busy="wait"), "if_busy"),  # type: ignore[arg-type]
        (lambda: Run(thread_id="t", graph="g", input={"a": "nul\x00"}), "input"),
        (lambda: Run(thread_id="t", graph="g", input={"a": object()}), "input"),
        (lambda: RunConfig(recursion_limit=0), "config.recursion_limit"),
        (lambda: Resume(thread_id="t"), "values"),
        (lambda: Resume(thread_id="t", values={"i": 1}, value=2), "values"),
        (lambda: Resume(thread_id="t", values={}), "values"),
        (lambda: Resume(thread_id="t", value=1, checkpoint_id="not-a-uuid"), "checkpoint_id"),
        (lambda: UpdateState(thread_id="t", values=[1]), "values"),  # type: ignore[arg-type]
        (lambda: Cancel(thread_id="t", id=""), "id"),
    ],
)
def test_a_bad_command_is_refused_naming_the_field(build, field: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        build()
    assert caught.value.field == field, str(caught.value)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "launch"}', "'launch' is not one of"),
        (b'{"type": "step", "schema_version": 2}', "schema_version 2 is not supported"),
        (b'{"type": "rejected", "schema_version": 1, "id": "r", "thread_id": "t", "created_at": "2026-01-01T00:00:00Z"}', "missing field 'command_id'"),
        (b'{"type": "cancel", "schema_version": 1, "id": "c", "thread_id": "t", "created_at": "yesterday"}', "not an RFC 3339 timestamp"),
    ],
)
def test_an_undecodable_message_says_what_is_wrong(raw: bytes, words: str) -> None:
    with pytest.raises(InvalidMessage, match=words):
        parse_message(raw)


def test_a_resume_by_value_keeps_json_null_apart_from_absent() -> None:
    assert Resume(thread_id="t", value=None).to_dict()["value"] is None
    assert "value" not in Resume(thread_id="t", values={"i": None}).to_dict()
    assert Resume.from_dict(Resume(thread_id="t", values={"i": 1}).to_dict()).value is UNSET


# MARK: a step's resolved_interrupts

STEP = {"type": "step", "schema_version": 1, "id": "step-x-c1", "thread_id": "t1", "created_at": "2026-11-22T10:15:00.000Z",
        "checkpoint_id": CHECKPOINT, "step": 3, "status": "ready", "command_id": "c1"}


def test_a_step_reads_and_writes_the_questions_it_closed() -> None:
    wire = {**STEP, "resolved_interrupts": [
        {"interrupt_id": "5f0e2a4c", "status": "resolved", "resolved_by": "bo"},
        {"interrupt_id": "9d1b", "status": "expired", "resolved_by": "timeout"},
        {"interrupt_id": "77aa", "status": "cancelled"},
    ]}
    validate(wire)
    step = parse_message(json.dumps(wire).encode())
    assert isinstance(step, Step)
    assert step.resolved_interrupts == (
        ResolvedInterrupt(interrupt_id="5f0e2a4c", status="resolved", resolved_by="bo"),
        ResolvedInterrupt(interrupt_id="9d1b", status="expired", resolved_by="timeout"),
        ResolvedInterrupt(interrupt_id="77aa", status="cancelled", resolved_by=None),
    )
    assert step.to_dict() == wire
    assert json.loads(step.to_json()) == wire


def test_a_step_that_closed_nothing_has_no_resolved_interrupts_on_the_wire() -> None:
    for wire in (STEP, {**STEP, "resolved_interrupts": []}, {**STEP, "resolved_interrupts": None}):
        step = Step.from_dict(wire)
        assert step.resolved_interrupts == ()
        assert "resolved_interrupts" not in step.to_dict()
        assert step.to_dict() == STEP


def test_a_built_step_keeps_its_closed_questions_as_a_tuple() -> None:
    step = Step(id="s", thread_id="t1", created_at=AT, checkpoint_id=CHECKPOINT, step=1, status="ready",
                resolved_interrupts=[ResolvedInterrupt("i", "resolved")])  # type: ignore[arg-type]
    assert step.resolved_interrupts == (ResolvedInterrupt("i", "resolved"),)
    assert Step.from_dict(step.to_dict()) == step


@pytest.mark.parametrize(
    ("resolved", "field", "words"),
    [
        ({"interrupt_id": "i", "status": "resolved"}, "resolved_interrupts", "must be a list"),
        (["i"], "resolved_interrupts[0]", "must be an object"),
        ([{"interrupt_id": "i", "status": "resolved"}, {"status": "resolved"}], "resolved_interrupts[1].interrupt_id", "missing field"),
        ([{"interrupt_id": "", "status": "resolved"}], "resolved_interrupts[0].interrupt_id", "non-empty string"),
        ([{"interrupt_id": 7, "status": "resolved"}], "resolved_interrupts[0].interrupt_id", "non-empty string"),
        ([{"interrupt_id": "i"}], "resolved_interrupts[0].status", "missing field"),
        ([{"interrupt_id": "a", "status": "resolved"}, {"interrupt_id": "b", "status": "expired"},
          {"interrupt_id": "c", "status": "answered"}], "resolved_interrupts[2].status", "'answered', not how a question closes"),
        ([{"interrupt_id": "i", "status": "pending"}], "resolved_interrupts[0].status", "expected one of resolved, expired, cancelled"),
        ([{"interrupt_id": "i", "status": "resolved", "resolved_by": 5}], "resolved_interrupts[0].resolved_by", "must be a string"),
    ],
)
def test_a_bad_closed_question_is_refused_naming_its_path(resolved, field: str, words: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        parse_message(json.dumps({**STEP, "resolved_interrupts": resolved}).encode())
    assert caught.value.field == field, str(caught.value)
    assert repr(field) in str(caught.value)
    assert words in str(caught.value)
