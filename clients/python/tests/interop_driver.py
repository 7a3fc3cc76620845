#!/usr/bin/env python3
"""Drives a running Interlude deployment with interlude-review (confluent-kafka) and checks
what comes back. Run by Tests/EndToEndTests/PythonClientTests.swift against real workers;
also runnable by hand against `interlude dev`:

    python clients/python/tests/interop_driver.py --bootstrap-servers HOST:PORT --topic-prefix interlude. --report /tmp/r.json

What it checks (each failure is listed in the report and makes the exit status 1):
- N approval runs, even ones approved and odd ones rejected, all complete with that outcome;
- each run's command landed on the partition where the workers publish the thread's events
  (murmur2_random agrees with the workers' partitioner);
- the same answers sent again (same command ids) produce no event (the workers' ledger and
  thread versions, checked from Swift, prove no second effect);
- a late second answer is rejected ``already_resolved``;
- an unknown interrupt id is rejected ``unknown_interrupt`` and the thread can still be answered;
- update_state with continue re-asks with the edited draft; cancel ends a paused thread failed;
- malformed messages land on the dead-letter topic with the expected reasons and keys.

The report (JSON, written to --report) lists the thread ids and command ids for the Swift side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any, Callable

from confluent_kafka import Consumer, Producer, TopicPartition

from interlude_review import (
    Completed,
    DeadLetter,
    Failed,
    Interrupt,
    ResumeRejected,
    ReviewClient,
    Resume,
    parse_message,
)

failures: list[str] = []


def log(text: str) -> None:
    print(f"[driver {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def check(condition: bool, what: str) -> None:
    if not condition:
        failures.append(what)
        log(f"FAILED: {what}")


def collect_interrupts(client: ReviewClient, threads: set[str], timeout: float, seen: dict[str, Interrupt], partitions: dict[str, int]) -> None:
    """Reads interrupts until every thread in ``threads`` has a new one in ``seen``."""
    deadline = time.monotonic() + timeout
    waiting = set(threads)
    while waiting:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no interrupt within {timeout} s for threads {sorted(waiting)}")
        event = client.poll(0.2)
        if isinstance(event, Interrupt) and event.thread_id in waiting:
            seen[event.thread_id] = event
            assert client.last_position is not None
            partitions[event.thread_id] = client.last_position[1]
            waiting.discard(event.thread_id)


def paused_run(client: ReviewClient, thread: str, subject: str, timeout: float, seen: dict[str, Interrupt]) -> Interrupt:
    """Starts an approval run and returns its interrupt."""
    client.start_run(thread, "approval", {"recipient": f"{thread}@example.com", "subject": subject})
    collect_interrupts(client, {thread}, timeout, seen, {})
    return seen[thread]


def expect_rejected(client: ReviewClient, send: Callable[[], str], reason: str, timeout: float, what: str) -> str:
    command = send()
    try:
        client.wait_for_command(command, timeout)
    except ResumeRejected as rejection:
        check(rejection.reason == reason, f"{what}: rejected with {rejection.reason!r}, expected {reason!r} ({rejection.detail})")
        return command
    check(False, f"{what}: the command was applied, expected a rejection {reason!r}")
    return command


def malformed_messages(tag: str) -> list[tuple[str, str, bytes, str]]:
    """(topic suffix, key, bytes, expected dead-letter reason) for each malformed command."""
    def envelope(kind: str, **fields: Any) -> bytes:
        body = {"type": kind, "schema_version": 1, "id": f"{tag}-{uuid.uuid4()}", "thread_id": f"{tag}-bad",
                "created_at": "2026-12-01T00:00:00.000Z", **fields}
        return json.dumps(body).encode()

    return [
        ("runs", f"{tag}-bad-1", b"not json at all", "undecodable"),
        ("runs", f"{tag}-bad-2", b"[1, 2, 3]", "undecodable"),
        ("runs", f"{tag}-bad-3", b'{"type": "run"}', "invalid_envelope"),
        ("runs", f"{tag}-bad-4", envelope("run", graph="approval", schema_version=9), "unsupported_schema_version"),
        ("runs", f"{tag}-bad-5", envelope("launch"), "unknown_type"),
        ("runs", f"{tag}-bad-6", envelope("run", graph="no-such-graph"), "unknown_graph"),
        ("runs", f"{tag}-bad-7", envelope("resume", value=True), "wrong_topic"),
        ("resumes", f"{tag}-bad-8", envelope("resume", value=True, values={"i": True}), "invalid_envelope"),
        ("resumes", f"{tag}-bad-9", envelope("resume", value="nul \u0000 inside"), "invalid_envelope"),
    ]


def read_dead_letters(servers: str, topic: str, wanted: set[str], timeout: float) -> dict[str, DeadLetter]:
    """Reads the whole dead-letter topic (no group: every partition from the start) until a
    letter for every key in ``wanted`` came."""
    consumer = Consumer({"bootstrap.servers": servers, "group.id": f"interop-dlq-{uuid.uuid4()}", "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = metadata.topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        letters: dict[str, DeadLetter] = {}
        deadline = time.monotonic() + timeout
        while not wanted <= set(letters):
            if time.monotonic() > deadline:
                raise TimeoutError(f"dead letters missing after {timeout} s for keys {sorted(wanted - set(letters))}")
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            letter = parse_message(message.value() or b"")
            assert isinstance(letter, DeadLetter), f"a {letter.type} message on the dead-letter topic"
            key = message.key()
            check(key is not None and key.decode() == letter.key, f"dead letter {letter.id}: Kafka key {key!r} differs from its key field {letter.key!r}")
            if letter.key is not None:
                letters[letter.key] = letter
        return letters
    finally:
        consumer.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic-prefix", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=120, help="seconds for each wait")
    parser.add_argument("--report", required=True, help="write the JSON report here")
    arguments = parser.parse_args()
    servers, prefix, timeout = arguments.bootstrap_servers, arguments.topic_prefix, arguments.timeout
    tag = f"py{uuid.uuid4().hex[:6]}"
    report: dict[str, Any] = {"tag": tag}

    tuning = {"fetch.wait.max.ms": 10, "session.timeout.ms": 6000}
    with ReviewClient(servers, topic_prefix=prefix, consumer_config=tuning) as client:
        # 1. N runs: even approved, odd rejected.
        threads = [f"{tag}-{i}" for i in range(arguments.runs)]
        run_partitions: dict[str, int] = {}
        for thread in threads:
            client.start_run(thread, "approval", {"recipient": f"{thread}@example.com", "subject": "interop"})
            assert client.last_partition is not None
            run_partitions[thread] = client.last_partition
        log(f"started {len(threads)} runs; waiting for their interrupts")
        interrupts: dict[str, Interrupt] = {}
        event_partitions: dict[str, int] = {}
        collect_interrupts(client, set(threads), timeout, interrupts, event_partitions)
        for thread in threads:
            check(run_partitions[thread] == event_partitions[thread],
                  f"thread {thread}: the run went to partition {run_partitions[thread]} but its interrupt came on {event_partitions[thread]} (partitioner mismatch)")
        answers: dict[str, Resume] = {}
        for i, thread in enumerate(threads):
            approved = i % 2 == 0
            answer = Resume.answer(interrupts[thread], {"approved": approved, "comment": "interop"})
            client.send(answer)
            answers[thread] = answer
        log("answered; waiting for the outcomes")
        for i, thread in enumerate(threads):
            outcome = client.wait_for_outcome(thread, timeout, command_id=answers[thread].id)
            expected = "sent" if i % 2 == 0 else "rejected"
            check(isinstance(outcome, Completed) and outcome.values.get("outcome") == expected,
                  f"thread {thread}: expected completed with outcome {expected!r}, got {outcome}")

        # 2. The same answers again: ignored (no event; Swift checks versions and the ledger).
        for thread in threads:
            client.send(answers[thread])
        # 3. A late second answer with a new command id: already_resolved. Sent after the
        # copies on the same partition, so its rejection also means the copies were read.
        late: dict[str, str] = {}
        for i, thread in enumerate(threads):
            late[thread] = expect_rejected(
                client, lambda: client.answer(interrupts[thread], {"approved": i % 2 == 1, "comment": "late"}),
                "already_resolved", timeout, f"late answer on {thread}")
        log("late answers rejected already_resolved")

        # 4. An unknown interrupt id on a paused thread, then the real answer still works.
        paused = f"{tag}-unknown"
        extra: dict[str, Interrupt] = {}
        paused_run(client, paused, "unknown id", timeout, extra)
        unknown = expect_rejected(client, lambda: client.resume(paused, {"no-such-interrupt": True}), "unknown_interrupt", timeout, "unknown interrupt id")
        final = client.answer(extra[paused], {"approved": True})
        outcome = client.wait_for_outcome(paused, timeout, command_id=final)
        check(isinstance(outcome, Completed) and outcome.values.get("outcome") == "sent", f"after the unknown id, {paused} should complete sent: {outcome}")

        # 5. update_state with continue: the review asks again with the edited draft.
        edited = f"{tag}-edit"
        first_question = paused_run(client, edited, "edit", timeout, extra)
        edit = client.update_state(edited, {"draft": "edited by interop"}, as_node="draft", continue_run=True)
        client.wait_for_command(edit, timeout)
        collect_interrupts(client, {edited}, timeout, extra, {})
        check(extra[edited].interrupt_id != first_question.interrupt_id and extra[edited].value.get("draft") == "edited by interop",
              f"after update_state the review should ask again with the edited draft: {extra[edited]}")
        edit_answer = client.answer(extra[edited], {"approved": True})
        outcome = client.wait_for_outcome(edited, timeout, command_id=edit_answer)
        check(isinstance(outcome, Completed) and outcome.values.get("draft") == "edited by interop", f"{edited} should complete with the edited draft: {outcome}")

        # 6. cancel on a paused thread: failed with reason cancelled.
        cancelled = f"{tag}-cancel"
        paused_run(client, cancelled, "cancel", timeout, extra)
        cancel = client.cancel(cancelled, "interop")
        outcome = client.wait_for_outcome(cancelled, timeout, command_id=cancel)
        check(isinstance(outcome, Failed) and outcome.reason.startswith("cancelled"), f"{cancelled} should fail cancelled: {outcome}")
        report["client_stats"] = client.stats

    # 7. Malformed messages: each lands on the dead-letter topic with its reason and key.
    producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True, "partitioner": "murmur2_random"})
    bad = malformed_messages(tag)
    for suffix, key, payload, _ in bad:
        producer.produce(prefix + suffix, key=key.encode(), value=payload)
    check(producer.flush(30) == 0, "the malformed messages were not all delivered to Kafka")
    letters = read_dead_letters(servers, prefix + "dlq", {key for _, key, _, _ in bad}, timeout)
    for suffix, key, payload, reason in bad:
        letter = letters[key]
        check(letter.reason == reason, f"dead letter for {payload[:40]!r}: reason {letter.reason!r}, expected {reason!r} ({letter.detail})")
        check(letter.original_bytes() == payload and letter.topic == prefix + suffix, f"dead letter {letter.id} does not carry the original bytes and topic")
        check(bool(letter.detail), f"dead letter {letter.id} has no detail")
    log(f"{len(bad)} malformed messages dead-lettered with their reasons")

    report.update(
        threads=threads, approved=[t for i, t in enumerate(threads) if i % 2 == 0], rejected=[t for i, t in enumerate(threads) if i % 2 == 1],
        answers={t: answers[t].id for t in threads}, late=late, unknown_thread=paused, unknown_command=unknown,
        edited_thread=edited, cancelled_thread=cancelled, dead_letters={key: letters[key].reason for _, key, _, _ in bad},
        failures=failures,
    )
    with open(arguments.report, "w") as out:
        json.dump(report, out, indent=1)
    log("all checks passed" if not failures else f"{len(failures)} checks failed")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
