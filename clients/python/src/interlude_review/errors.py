"""Exceptions raised by :mod:`interlude_review`.

Every exception derives from :class:`InterludeError`, and each says what was wrong, where, and
what to do about it.
"""

from __future__ import annotations

from .reasons import explain_rejection

__all__ = [
    "InterludeError",
    "InvalidMessage",
    "CommandRejected",
    "ResumeRejected",
    "OutcomeTimeout",
    "DeliveryFailed",
]


class InterludeError(Exception):
    """Base class of every error this package raises."""


class InvalidMessage(InterludeError, ValueError):
    """A message does not follow its contract (``schemas/kafka/*.json``).

    Raised when building a command with a bad field (before anything is sent) and when an
    event read from Kafka cannot be decoded. ``field`` names the offending field, if known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CommandRejected(InterludeError):
    """A worker refused a command and published a ``rejected`` event.

    Attributes:
        reason: the reason code (``already_resolved``, ``unknown_interrupt``, ...); see
            :data:`interlude_review.REJECTION_REASONS` for what each means.
        detail: the worker's message, saying what was wrong.
        command_id: the refused command's id.
        thread_id: its thread.
    """

    def __init__(self, reason: str, detail: str, *, command_id: str, thread_id: str) -> None:
        self.reason = reason
        self.detail = detail
        self.command_id = command_id
        self.thread_id = thread_id
        super().__init__(
            f"command {command_id!r} on thread {thread_id!r} was rejected ({reason}): {detail}. "
            f"{explain_rejection(reason)}"
        )


class ResumeRejected(CommandRejected):
    """A ``resume`` this client sent was refused (the answer was not applied)."""


class OutcomeTimeout(InterludeError, TimeoutError):
    """The awaited event did not arrive in time. Nothing was cancelled: the command may still
    be applied later; wait again or look at the thread's state."""


class DeliveryFailed(InterludeError):
    """Kafka did not acknowledge a command, so it may not have been written.

    Sending the same command again (same ``id``) is safe: workers apply a command id once.
    """
