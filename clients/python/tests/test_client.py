"""ReviewClient's bookkeeping (de-duplication, offsets, waits, rejections) against an in-memory
stand-in for confluent-kafka: no broker needed. The interop test drives the real stack."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

import interlude_review.client as client_module
import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from interlude_review import Actor, Completed, Interrupt, OutcomeTimeout, Resume, ResumeRejected, CommandRejected, ResumeSigner, ReviewClient, Step, canonical_bytes

CHECKPOINT = "019a5c3e-8f00-7000-8000-0123456789ab"


class FakeMessage:
    def __init__(self, topic: str, offset: int, value: bytes) -> None:
        self._topic, self._offset, self._value = topic, offset, value

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


class FakeConsumer:
    instances: list["FakeConsumer"] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.queue: deque[FakeMessage] = deque()
        self.stored: list[tuple[str, int]] = []
        self.closed = False
        self.offsets: dict[str, int] = {}
        FakeConsumer.instances.append(self)

    def subscribe(self, topics: list[str]) -> None:
        self.topics = topics

    def push(self, topic: str, event: dict[str, Any]) -> None:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        self.queue.append(FakeMessage(topic, offset, json.dumps(event).encode()))

    def poll(self, timeout: float) -> FakeMessage | None:
        return self.queue.popleft() if self.queue else None

    def store_offsets(self, message: FakeMessage) -> None:
        self.stored.append((message.topic(), message.offset()))

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    instances: list["FakeProducer"] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes, dict[str, Any]]] = []
        self.pending: list[Any] = []
        FakeProducer.instances.append(self)

    def produce(self, topic: str, key: bytes, value: bytes, headers: Any, on_delivery: Any) -> None:
        self.sent.append((topic, key, json.loads(value)))
        self.pending.append(on_delivery)

    def poll(self, timeout: float) -> int:
        for callback in self.pending:
            callback(None, FakeMessage("x", 0, b""))
        count, self.pending = len(self.pending), []
        return count

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return 0


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> ReviewClient:
    monkeypatch.setattr(client_module, "Consumer", FakeConsumer)
    monkeypatch.setattr(client_module, "Producer", FakeProducer)
    return ReviewClient("127.0.0.1:1", topic_prefix="p.", delivery_timeout=1)


def consumer(_: ReviewClient) -> FakeConsumer:
    return FakeConsumer.instances[-1]


def producer(_: ReviewClient) -> FakeProducer:
    return FakeProducer.instances[-1]


def review(thread: str, interrupt: str) -> dict[str, Any]:
    return {"type": "interrupt", "schema_version": 1, "id": f"review-{interrupt}", "thread_id": thread,
            "created_at": "2026-01-01T00:00:00.000Z", "graph": "approval", "graph_version": 1,
            "checkpoint_id": CHECKPOINT, "interrupt_id": interrupt, "node": "review", "value": {"q": 1}}


def step(thread: str, command: str, status: str, n: int) -> dict[str, Any]:
    return {"type": "step", "schema_version": 1, "id": f"step-{thread}-{n}", "thread_id": thread,
            "created_at": "2026-01-01T00:00:00.000Z", "checkpoint_id": CHECKPOINT, "step": n, "status": status, "command_id": command}


def completed(thread: str, n: int) -> dict[str, Any]:
    return {"type": "completed", "schema_version": 1, "id": f"completed-{thread}-{n}", "thread_id": thread,
            "created_at": "2026-01-01T00:00:00.000Z", "checkpoint_id": CHECKPOINT, "values": {"outcome": "sent"}}


def rejected(thread: str, command: str, reason: str) -> dict[str, Any]:
    return {"type": "rejected", "schema_version": 1, "id": f"rejected-{command}", "thread_id": thread,
            "created_at": "2026-01-01T00:00:00.000Z", "command_id": command, "reason": reason, "message": "refused"}


def test_the_producer_is_idempotent_with_the_java_partitioner_and_offsets_wait_for_the_app(client: ReviewClient) -> None:
    assert producer(client).config["enable.idempotence"] is True
    assert producer(client).config["partitioner"] == "murmur2_random"
    assert consumer(client).config["enable.auto.offset.store"] is False
    assert consumer(client).topics == ["p.reviews", "p.events"]


def test_commands_go_to_their_topics_keyed_by_thread(client: ReviewClient) -> None:
    client.start_run("t1", "approval", {"recipient": "a"})
    client.resume_pending("t1", True)
    client.update_state("t1", {"draft": "x"}, as_node="draft")
    client.cancel("t1", "no longer needed")
    topics = [(topic, key, body["type"]) for topic, key, body in producer(client).sent]
    assert topics == [("p.runs", b"t1", "run"), ("p.resumes", b"t1", "resume"), ("p.runs", b"t1", "update_state"), ("p.runs", b"t1", "cancel")]


def test_a_redelivered_interrupt_is_seen_once_and_its_offset_is_stored_after_handling(client: ReviewClient) -> None:
    fake = consumer(client)
    fake.push("p.reviews", review("t1", "i1"))
    fake.push("p.reviews", review("t1", "i1"))
    fake.push("p.reviews", review("t2", "i2"))
    seen = []
    for interrupt in client.interrupts(idle_timeout=0, poll_interval=0):
        if not seen:
            assert fake.stored == [], "the first interrupt's offset is stored only once it was handled"
        seen.append(interrupt.interrupt_id)
    assert seen == ["i1", "i2"]
    assert client.stats["duplicates"] == 1
    assert sorted(fake.stored) == [("p.reviews", 0), ("p.reviews", 1), ("p.reviews", 2)]


def test_an_answer_that_is_refused_raises_resume_rejected_with_the_reason(client: ReviewClient) -> None:
    command = client.answer(Interrupt.from_dict(review("t1", "i1")), {"approved": True})
    consumer(client).push("p.events", rejected("t1", command, "already_resolved"))
    with pytest.raises(ResumeRejected) as caught:
        client.wait_for_outcome("t1", timeout=1, command_id=command)
    assert caught.value.reason == "already_resolved"
    assert "first answer stands" in str(caught.value)


def test_a_refused_run_raises_command_rejected(client: ReviewClient) -> None:
    command = client.start_run("t1", "approval")
    consumer(client).push("p.events", rejected("t1", command, "thread_busy"))
    with pytest.raises(CommandRejected) as caught:
        client.wait_for_command(command, timeout=1)
    assert not isinstance(caught.value, ResumeRejected)


def test_waiting_for_an_outcome_skips_outcomes_from_before_the_command_and_keeps_interrupts(client: ReviewClient) -> None:
    fake = consumer(client)
    fake.push("p.events", completed("t1", 1))  # an earlier run of the thread
    client.poll(0)
    command = client.start_run("t1", "approval", if_busy="restart")
    fake.push("p.events", step("t1", command, "interrupted", 2))
    fake.push("p.reviews", review("t1", "i9"))
    fake.push("p.events", completed("t1", 3))
    outcome = client.wait_for_outcome("t1", timeout=1, command_id=command)
    assert isinstance(outcome, Completed) and outcome.id == "completed-t1-3"
    kept = client.poll(0)
    assert isinstance(kept, Interrupt) and kept.interrupt_id == "i9"
    assert isinstance(client.wait_for_command(command, timeout=0), Step)


def test_a_wait_with_no_answer_times_out(client: ReviewClient) -> None:
    with pytest.raises(OutcomeTimeout, match="thread 'nobody'"):
        client.wait_for_outcome("nobody", timeout=0.05)


def test_an_actor_goes_on_the_resume(client: ReviewClient) -> None:
    client.resume("t1", {"i": True}, actor="ana")
    client.resume_pending("t1", True, actor=Actor("bob", roles=("finance",)))
    sent = [payload for _, _, payload in producer(client).sent]
    assert sent[0]["actor"] == {"id": "ana", "roles": []}
    assert sent[1]["actor"] == {"id": "bob", "roles": ["finance"]}
    assert "signature" not in sent[0]


def test_a_client_with_a_signer_signs_every_resume(client: ReviewClient) -> None:
    key = Ed25519PrivateKey.generate()
    client.signer = ResumeSigner(key, "k1", clock=lambda: 1_800_000_000)
    client.resume("t1", {"i": True}, actor="ana")
    sent = producer(client).sent[-1][2]
    assert sent["signature"]["key_id"] == "k1"
    assert sent["signature"]["issued_at"] == 1_800_000_000 and sent["signature"]["expires_at"] == 1_800_000_300
    resume = Resume.from_dict(sent)
    key.public_key().verify(base64.b64decode(sent["signature"]["sig"]), canonical_bytes(resume, key_id="k1", issued_at=1_800_000_000, expires_at=1_800_000_300))


def test_an_undecodable_event_is_skipped_and_counted(client: ReviewClient) -> None:
    fake = consumer(client)
    fake.queue.append(FakeMessage("p.events", 0, b"garbage"))
    assert client.poll(0) is None
    assert client.stats["invalid"] == 1
    assert fake.stored == [("p.events", 0)]
    client.close()
    assert fake.closed


def test_a_cancel_is_acknowledged_although_its_step_reuses_the_paused_steps_id(client: ReviewClient) -> None:
    fake = consumer(client)
    run = client.start_run("t1", "approval")
    fake.push("p.events", step("t1", run, "interrupted", 1))
    client.poll(0)
    cancel = client.cancel("t1")
    again = step("t1", cancel, "failed", 1)  # same event id: no new checkpoint
    assert again["id"] == step("t1", run, "interrupted", 1)["id"]
    fake.push("p.events", again)
    fake.push("p.events", again)  # a redelivered copy is still dropped
    failed = {"type": "failed", "schema_version": 1, "id": f"failed-{cancel}", "thread_id": "t1",
              "created_at": "2026-01-01T00:00:00.000Z", "reason": "cancelled", "command_id": cancel}
    fake.push("p.events", failed)
    acknowledged = client.wait_for_command(cancel, timeout=1)
    assert isinstance(acknowledged, Step) and acknowledged.status == "failed"
    outcome = client.wait_for_outcome("t1", timeout=1, command_id=cancel)
    assert outcome.reason == "cancelled"
    assert client.stats["duplicates"] == 1


def test_a_copy_read_while_an_earlier_interrupt_waits_does_not_commit_past_it(client: ReviewClient) -> None:
    fake = consumer(client)
    command = client.start_run("t9", "approval")
    fake.push("p.reviews", review("t1", "i1"))  # offset 0: kept for poll while the wait runs
    fake.push("p.reviews", review("t1", "i1"))  # offset 1: a copy
    fake.push("p.events", step("t9", command, "interrupted", 1))
    client.wait_for_command(command, timeout=1)
    assert ("p.reviews", 1) not in fake.stored and ("p.reviews", 0) not in fake.stored
    kept = client.poll(0)
    assert isinstance(kept, Interrupt) and kept.interrupt_id == "i1"
    client.poll(0)  # the interrupt was handled
    assert ("p.reviews", 0) in fake.stored


def test_the_readme_recipe_drops_a_question_closed_elsewhere(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs the README's "Questions closed elsewhere" code on a queue: q1 answered by bo at
    another desk, q4 expired before its interrupt event was read, thread t2 completed."""
    import re
    from pathlib import Path

    closing = step("t1", "c1", "interrupted", 3)
    closing["resolved_interrupts"] = [{"interrupt_id": "q1", "status": "resolved", "resolved_by": "bo"},
                                      {"interrupt_id": "q4", "status": "expired", "resolved_by": "timeout"}]
    done = {"type": "completed", "schema_version": 1, "id": "completed-t2", "thread_id": "t2",
            "created_at": "2026-01-01T00:00:00.000Z", "checkpoint_id": CHECKPOINT, "values": {}}
    queue = [("interlude.reviews", review("t1", "q1")), ("interlude.reviews", review("t1", "q2")), ("interlude.reviews", review("t2", "q3")),
             ("interlude.events", closing), ("interlude.reviews", review("t1", "q4")), ("interlude.events", done)]

    class Queued(FakeConsumer):
        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__(config)
            for topic, event in queue:
                self.push(topic, event)

    monkeypatch.setattr(client_module, "Consumer", Queued)
    monkeypatch.setattr(client_module, "Producer", FakeProducer)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    recipe = re.search(r"## Questions closed elsewhere.*?```python\n(.*?)```", readme, re.S)
    assert recipe is not None, "the README's 'Questions closed elsewhere' example is gone"
    code = recipe.group(1)
    assert "while True:" in code
    names: dict[str, Any] = {}
    exec(code.replace("while True:", f"for _ in range({len(queue) + 2}):"), names)
    assert sorted(names["shown"]) == [("t1", "q2")]
    assert names["closed"] == {("t1", "q1"), ("t1", "q4")}
    assert capsys.readouterr().out == "q1 on t1: resolved by bo\n"
