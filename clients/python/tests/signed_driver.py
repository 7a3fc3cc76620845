#!/usr/bin/env python3
"""Signed answers against a running worker that requires them
(``INTERLUDE_REQUIRE_SIGNED_RESUMES=true``, the key below in its key set). Run by
Tests/EndToEndTests/PythonClientTests.swift; the worker verifies what this client signs.

What it checks (each failure is listed in the report and makes the exit status 1):
- the ``guarded-approval`` interrupt event names its approvers, and ``Interrupt.allows`` agrees;
- an answer signed by the Python signer for an approver (alice) completes the run, and the
  resume's step event carries the actor;
- the same signed resume sent again under another command id is rejected ``signature_replayed``;
- an unsigned answer is rejected ``signature_required``;
- a signed answer from an unlisted actor is rejected ``not_allowed``;
- an answer signed with a key the workers do not know is rejected ``unknown_key``.

Usage: signed_driver.py --bootstrap-servers HOST:PORT --topic-prefix P --seed-hex 32-BYTE-HEX --key-id ID --report FILE
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from interlude_review import Actor, Completed, Interrupt, Resume, ResumeRejected, ResumeSigner, ReviewClient, Step, new_command_id

failures: list[str] = []


def check(condition: bool, what: str) -> None:
    if not condition:
        failures.append(what)
        print(f"[signed driver] FAILED: {what}", file=sys.stderr, flush=True)


def paused(client: ReviewClient, thread: str, timeout: float) -> Interrupt:
    client.start_run(thread, "guarded-approval", {"recipient": f"{thread}@example.com", "subject": "signed"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = client.poll(0.2)
        if isinstance(event, Interrupt) and event.thread_id == thread:
            return event
    raise TimeoutError(f"no interrupt for {thread} within {timeout} s")


def rejection(client: ReviewClient, command_id: str, timeout: float) -> str | None:
    try:
        client.wait_for_command(command_id, timeout)
    except ResumeRejected as rejected:
        return rejected.reason
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic-prefix", required=True)
    parser.add_argument("--seed-hex", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args()
    tag = f"signed-{uuid.uuid4().hex[:8]}"
    signer = ResumeSigner(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(args.seed_hex)), args.key_id)
    stranger = ResumeSigner(Ed25519PrivateKey.generate(), "not-configured")
    report: dict[str, object] = {"tag": tag}
    with ReviewClient(args.bootstrap_servers, topic_prefix=args.topic_prefix, signer=signer) as client:
        alice = Actor("alice", roles=("finance",))
        interrupt = paused(client, f"{tag}-ok", args.timeout)
        check(interrupt.approvers == {"users": ["alice"], "roles": ["finance"]}, f"approvers in the event: {interrupt.approvers}")
        check(interrupt.allows(alice) and not interrupt.allows(Actor("mallory")), "Interrupt.allows")
        signed = signer.sign(Resume(thread_id=interrupt.thread_id, values={interrupt.interrupt_id: {"approved": True}}, actor=alice))
        command = client.send(signed)  # already signed: the client's signer leaves it as it is
        outcome = client.wait_for_outcome(interrupt.thread_id, args.timeout)
        check(isinstance(outcome, Completed) and outcome.values.get("outcome") == "sent", f"the signed answer completed the run: {outcome}")
        ack = client.wait_for_command(command, args.timeout)
        check(isinstance(ack, Step) and ack.actor == alice, f"the step event names the actor: {ack}")
        report["applied_command"] = command
        report["applied_thread"] = interrupt.thread_id

        reasons: dict[str, str | None] = {}
        # The exact signed resume again, under a new command id.
        reasons["replay"] = rejection(client, client.send(dataclasses.replace(signed, id=new_command_id())), args.timeout)

        other = paused(client, f"{tag}-refused", args.timeout)
        client.signer = None
        reasons["unsigned"] = rejection(client, client.answer(other, {"approved": True}, actor=alice), args.timeout)
        client.signer = signer
        reasons["mallory"] = rejection(client, client.answer(other, {"approved": True}, actor=Actor("mallory", roles=("sales",))), args.timeout)
        client.signer = stranger
        reasons["stranger"] = rejection(client, client.answer(other, {"approved": True}, actor=alice), args.timeout)
        expected = {"replay": "signature_replayed", "unsigned": "signature_required", "mallory": "not_allowed", "stranger": "unknown_key"}
        check(reasons == expected, f"rejection reasons {reasons}, expected {expected}")
        report["reasons"] = reasons
        report["refused_thread"] = other.thread_id
    report["failures"] = failures
    with open(args.report, "w") as out:
        json.dump(report, out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
