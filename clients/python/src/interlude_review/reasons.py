"""Reason codes of ``rejected`` events and dead letters, with what they mean and what to do.

The codes are the ``enum`` lists of ``schemas/kafka/rejected.json`` and
``schemas/kafka/dead_letter.json``; a test keeps these tables equal to the schemas.
"""

from __future__ import annotations

from typing import Mapping

__all__ = ["REJECTION_REASONS", "DEAD_LETTER_REASONS", "explain_rejection", "explain_dead_letter"]

#: Rejection reason code -> what it means and what a review app should do.
REJECTION_REASONS: Mapping[str, str] = {
    "no_pending_interrupt": (
        "the thread is not waiting on any interrupt (it is running, finished, or was never paused); "
        "drop the answer, or wait for the next interrupt event"
    ),
    "unknown_interrupt": (
        "no interrupt with that id exists on the thread; answer with the interrupt_id of a "
        "received interrupt event, on the same thread"
    ),
    "already_resolved": (
        "the interrupt was already answered (by another reviewer or an earlier copy of this answer), "
        "expired or was cancelled; the first answer stands; to change it, fork the thread from an "
        "earlier checkpoint"
    ),
    "invalid_value": (
        "the graph could not use the answer (wrong shape, or empty); fix the value and resume again "
        "with a new command id"
    ),
    "ambiguous_resume": (
        "several interrupts are pending and a plain 'value' cannot say which one it answers; "
        "resume by interrupt id ('values')"
    ),
    "graph_version_mismatch": (
        "the thread was started by another version of the graph than the workers run; "
        "route it to workers of that version, or start the thread again"
    ),
    "unknown_thread": "no thread with that id exists; check the thread id, or start it with a run command",
    "unknown_graph": "the thread's graph is not hosted by the workers; deploy a worker that registers it",
    "unknown_checkpoint": "the checkpoint id names no checkpoint of the thread; read the thread's history for valid ids",
    "unknown_node": "update_state named a node the graph does not have; use a node name of the graph",
    "ambiguous_update": "update_state could be applied as several nodes; name one with as_node",
    "invalid_input": "the input or state values do not decode into the graph's state; fix their fields and types",
    "recursion_limit": (
        "the run took more supersteps than its recursion limit; it stopped where it was; "
        "look at the graph's loop, or send a run with a higher config.recursion_limit"
    ),
    "thread_busy": (
        "a run was sent to a thread that is paused or running; resume it, cancel it, "
        "or send the run with if_busy 'restart'"
    ),
    "checkpoint_mismatch": (
        "the resume named a checkpoint_id but the thread has moved on; read the new state and "
        "answer the current interrupt"
    ),
    "timed_out": (
        "the thread failed because a human wait passed its deadline and cannot continue from its head; "
        "start it again, edit it with update_state, or fork an earlier checkpoint"
    ),
    "not_allowed": (
        "the resume's actor is not among the interrupt's approvers (or the resume has no actor); "
        "nothing was applied; answer as a listed user or a holder of a listed role"
    ),
    "signature_required": (
        "the workers accept only signed resumes; sign it (interlude_review.signing.ResumeSigner) "
        "with a key in the workers' key set"
    ),
    "bad_signature": (
        "the signature does not match the resume's thread, answers, actor, times and key, or is malformed; "
        "sign exactly what is sent (non-integer numbers cannot be signed: send them as strings)"
    ),
    "unknown_key": "the signature's key_id is not in the workers' key set; use a configured key, or add its public key",
    "signature_expired": "the signature's expires_at has passed; sign the answer again and send it with a new command id",
    "already_voted": (
        "the interrupt needs a quorum and this actor already voted on it; a vote counts once "
        "(the votes so far are in the thread's state)"
    ),
    "signature_replayed": (
        "this signed answer was already used by another command; a signature applies once: "
        "sign a new answer"
    ),
}

#: Dead-letter reason code -> what it means and what the sender should do.
DEAD_LETTER_REASONS: Mapping[str, str] = {
    "oversized": "the message is larger than the workers accept (1 MiB by default); send less data",
    "undecodable": "the message is not a JSON object; send UTF-8 JSON",
    "invalid_envelope": "a field is missing, has the wrong type or an invalid value; the detail names it",
    "unsupported_schema_version": "schema_version is not one the workers read (1); upgrade the client or the workers",
    "unknown_type": "type is not run, resume, update_state or cancel",
    "wrong_topic": "the command was sent to the wrong topic (resume goes to resumes, the others to runs)",
    "unknown_graph": "a run named a graph no worker registers; check the graph name",
    "duplicate_id": "the command's id is already used by a command of another thread or kind; ids must be unique: send it again with a new id",
    "storage_rejected": "PostgreSQL refused the command's data (for example a too long id); the detail says why",
    "processing_failed": "the command failed in a way a retry cannot fix; the detail says why",
}


def explain_rejection(reason: str) -> str:
    """What a rejection reason means and what to do, or a generic hint for codes newer than
    this package."""
    return REJECTION_REASONS.get(
        reason, "this reason code is newer than interlude-review; see the workers' docs/message-contracts.md"
    )


def explain_dead_letter(reason: str) -> str:
    """What a dead-letter reason means and what to do."""
    return DEAD_LETTER_REASONS.get(
        reason, "this reason code is newer than interlude-review; see the workers' docs/message-contracts.md"
    )
