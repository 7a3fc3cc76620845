"""interlude-review: typed message models and a Kafka client for Interlude review apps.

>>> from interlude_review import ReviewClient
>>> with ReviewClient("127.0.0.1:9092") as client:          # doctest: +SKIP
...     for interrupt in client.interrupts():
...         client.answer(interrupt, {"approved": True})
"""

from .client import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, ReviewClient, Topics
from .errors import CommandRejected, DeliveryFailed, InterludeError, InvalidMessage, OutcomeTimeout, ResumeRejected
from .models import (
    JSON,
    SCHEMA_VERSION,
    UNSET,
    Actor,
    Cancel,
    Command,
    Completed,
    DeadLetter,
    Event,
    Failed,
    Interrupt,
    Message,
    Rejected,
    ResolvedInterrupt,
    Resume,
    Run,
    RunConfig,
    Signature,
    Step,
    UpdateState,
    format_timestamp,
    new_command_id,
    parse_message,
    parse_timestamp,
)
from .signing import ResumeSigner, canonical_bytes, public_key_base64
from .reasons import DEAD_LETTER_REASONS, REJECTION_REASONS, explain_dead_letter, explain_rejection

__version__ = "0.1.0"

__all__ = [
    "ReviewClient",
    "Topics",
    "PRODUCER_DEFAULTS",
    "CONSUMER_DEFAULTS",
    "InterludeError",
    "InvalidMessage",
    "CommandRejected",
    "ResumeRejected",
    "OutcomeTimeout",
    "DeliveryFailed",
    "SCHEMA_VERSION",
    "JSON",
    "UNSET",
    "Run",
    "RunConfig",
    "Actor",
    "Signature",
    "ResumeSigner",
    "canonical_bytes",
    "public_key_base64",
    "Resume",
    "UpdateState",
    "Cancel",
    "Interrupt",
    "Step",
    "ResolvedInterrupt",
    "Completed",
    "Failed",
    "Rejected",
    "DeadLetter",
    "Command",
    "Event",
    "Message",
    "parse_message",
    "new_command_id",
    "format_timestamp",
    "parse_timestamp",
    "REJECTION_REASONS",
    "DEAD_LETTER_REASONS",
    "explain_rejection",
    "explain_dead_letter",
]
