#!/usr/bin/env python3
"""A terminal review app on interlude-review: shows each interrupt and sends your answer.

With ``interlude dev`` running in the repository::

    python clients/python/examples/review_desk.py --env-file .interlude/dev.env

Answers for the ``approval`` graph: ``a [comment]`` approves, ``r [comment]`` rejects,
``e <text>`` replaces the draft and asks again; any graph takes a JSON answer. ``--auto
approve`` (or ``reject``) answers without asking; ``--until N`` leaves after N runs ended.

The desk keeps the open questions in arrival order and asks the oldest. It reads events while
you type (``select`` on stdin: POSIX only), so a question another desk, a deadline or a
cancellation closed leaves the list at once, and the screen if it is the one asked.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from interlude_review import (
    Completed,
    Failed,
    Interrupt,
    InterludeError,
    Rejected,
    ResolvedInterrupt,
    ReviewClient,
    Step,
    explain_rejection,
)


def say(text: str = "") -> None:
    print(text, flush=True)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as ``interlude dev`` writes ``.interlude/dev.env``."""
    settings = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    return settings


def show(interrupt: Interrupt) -> None:
    say()
    say(f"== thread {interrupt.thread_id} asks ({interrupt.graph} v{interrupt.graph_version} / node {interrupt.node}):")
    for line in json.dumps(interrupt.value, indent=2, ensure_ascii=False).splitlines():
        say("   " + line)
    if interrupt.deadline is not None:
        say(f"   (answer before {interrupt.deadline.isoformat()})")


def decide(client: ReviewClient, interrupt: Interrupt, line: str) -> str | None:
    """Sends what ``line`` means; returns a note, or ``None`` if the line was not understood."""
    text = line.strip()
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    if interrupt.graph == "approval":
        if word.lower() in ("a", "approve", "y", "yes"):
            command = client.answer(interrupt, {"approved": True, "comment": rest or "approved in review"})
            return f"sent approval {command}"
        if word.lower() in ("r", "reject", "n", "no"):
            command = client.answer(interrupt, {"approved": False, "comment": rest or "rejected in review"})
            return f"sent rejection {command}"
        if word.lower() in ("e", "edit") and rest:
            # Rewrite the draft as the draft node and run on: review asks again with the new text.
            command = client.update_state(interrupt.thread_id, {"draft": rest}, as_node="draft", continue_run=True)
            return f"sent edit {command}"
    try:
        value: Any = json.loads(text)
    except ValueError:
        return None
    return f"sent answer {client.answer(interrupt, value)}"


def prompt_for(interrupt: Interrupt) -> str:
    if interrupt.graph == "approval":
        return "a [comment] = approve, r [comment] = reject, e <text> = edit the draft, or a JSON answer"
    return 'type the answer as JSON (e.g. true, "text", {"field": 1})'


def same(question: Interrupt, other: Interrupt | None) -> bool:
    """Whether two interrupt events ask the same question (a reminder publishes it again)."""
    return other is not None and (question.thread_id, question.interrupt_id) == (other.thread_id, other.interrupt_id)


class OpenQuestions:
    """The questions not answered yet, in arrival order; the first is the one to ask.

    A ``step`` event's ``resolved_interrupts`` closes questions, whoever answered them; a
    ``completed`` or ``failed`` event closes every question of its thread. Closed questions are
    remembered (the newest ``memory``), so an ``interrupt`` event read after the step that
    closed it (the reviews and events topics are read side by side) is not asked.
    """

    def __init__(self, memory: int = 10_000) -> None:
        self._open: OrderedDict[tuple[str, str], Interrupt] = OrderedDict()
        self._closed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._memory = memory

    def __len__(self) -> int:
        return len(self._open)

    @property
    def current(self) -> Interrupt | None:
        """The oldest open question, or ``None``."""
        return next(iter(self._open.values()), None)

    def add(self, interrupt: Interrupt) -> bool:
        """Opens a question; ``False`` when it was closed already or is open (a reminder or an
        escalation publishes it again: the newer event replaces it, in its place)."""
        key = (interrupt.thread_id, interrupt.interrupt_id)
        if key in self._closed:
            return False
        known = key in self._open
        self._open[key] = interrupt
        return not known

    def close(self, thread_id: str, interrupt_id: str) -> Interrupt | None:
        """Closes a question; returns it if it was open (``None`` for unknown or closed ids)."""
        key = (thread_id, interrupt_id)
        self._closed[key] = None
        self._closed.move_to_end(key)
        while len(self._closed) > self._memory:
            self._closed.popitem(last=False)
        return self._open.pop(key, None)

    def answered(self, interrupt: Interrupt) -> None:
        """Closes a question answered here."""
        self.close(interrupt.thread_id, interrupt.interrupt_id)

    def step(self, event: Step) -> list[tuple[Interrupt, ResolvedInterrupt]]:
        """Closes what a step closed; returns the open questions it closed, with how."""
        closed = []
        for item in event.resolved_interrupts:
            question = self.close(event.thread_id, item.interrupt_id)
            if question is not None:
                closed.append((question, item))
        return closed

    def end_thread(self, thread_id: str) -> list[Interrupt]:
        """Closes every open question of a thread that completed or failed; returns them."""
        keys = [key for key in self._open if key[0] == thread_id]
        return [question for key in keys if (question := self.close(*key)) is not None]


class TypedLines:
    """Lines typed on a file descriptor, read only when it has input (``select``), so the
    desk handles events while the user decides. Lines are split here, not by Python's
    buffered ``sys.stdin``, which could hold lines ``select`` does not see."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ended = False
        self._lines: list[str] = []
        self._partial = b""

    def next(self, timeout: float) -> str | None:
        """The next complete line, waiting at most ``timeout`` seconds; ``None`` if none came
        (check ``ended``: input ended, after its last line)."""
        if not self._lines and not self.ended and select.select([self.fd], [], [], timeout)[0]:
            data = os.read(self.fd, 65536)
            if data:
                *lines, self._partial = (self._partial + data).split(b"\n")
                self._lines += [line.decode("utf-8", errors="replace") for line in lines]
            else:
                self.ended = True
                if self._partial:  # the last line had no newline: it is still a line
                    self._lines.append(self._partial.decode("utf-8", errors="replace"))
                    self._partial = b""
        return self._lines.pop(0) if self._lines else None


class EndOfInput(Exception):
    """Stdin ended while a question was asked."""


class Desk:
    """The review loop: one question on screen, the others waiting, events read meanwhile.

    ``client`` is a :class:`ReviewClient` or anything with its ``poll``, ``answer`` and
    ``update_state`` (the tests pass an in-process event source).
    """

    def __init__(self, client: Any, *, auto: str | None = None, until: int | None = None, stdin: int = 0) -> None:
        self.client = client
        self.auto = auto
        self.until = until
        self.questions = OpenQuestions()
        self.typed = None if auto is not None else TypedLines(stdin)
        self.ended = 0
        #: The question whose prompt is on screen.
        self.shown: Interrupt | None = None
        #: The thread of the question that was on screen when it closed elsewhere, until the
        #: next line is read: that line may have been typed for it, so it is not sent to the
        #: question shown now.
        self.stale: str | None = None
        #: Lines about other threads, held while a prompt waits so they do not cut into it.
        self.later: list[str] = []

    def run(self) -> int:
        """Runs until ``until`` runs ended; raises :class:`EndOfInput` when stdin ends."""
        try:
            while self.until is None or self.ended < self.until:
                if self.shown is None:
                    self.ask_next()
                if self.shown is None or self.typed is None:
                    self.event(self.client.poll(0.5))
                    continue
                line = self.typed.next(0.1)
                while (event := self.client.poll(0)) is not None:
                    self.event(event)  # may close the question the line was typed for
                if line is not None:
                    self.line(line)
                elif self.typed.ended:
                    raise EndOfInput()
        finally:
            if self.shown is not None:
                say()  # off the prompt's line
            for text in self.later:
                say(text)
        return 0

    def note(self, text: str) -> None:
        """Shows a line now, or once the prompt on screen is answered."""
        if self.shown is not None:
            self.later.append(text)
        else:
            say(text)

    def ask_next(self) -> None:
        """Shows what was held back and the next open question (``--auto``: answers it)."""
        for text in self.later:
            say(text)
        self.later = []
        while (question := self.questions.current) is not None:
            show(question)
            if self.auto is None:
                self.shown = question
                self.prompt()
                return
            say(f"   > {self.auto}   (--auto)")
            say("   " + (decide(self.client, question, self.auto) or "?"))
            self.questions.answered(question)

    def prompt(self) -> None:
        assert self.shown is not None
        say("   " + prompt_for(self.shown))
        sys.stdout.write("   > ")
        sys.stdout.flush()

    def line(self, line: str) -> None:
        """A line typed at the prompt."""
        if self.stale is not None:
            stale, self.stale = self.stale, None
            if line.strip():
                again = "; answer the question above again" if self.shown is not None else ""
                say(f"   not sent: {line.strip()!r} may have been typed for the question of thread {stale} that closed{again}")
            if self.shown is not None:
                self.prompt()
            return
        assert self.shown is not None, "a line is read only while a question is on screen"
        note = decide(self.client, self.shown, line)
        if note is None:
            say("   not understood")
            self.prompt()
            return
        say("   " + note)
        self.questions.answered(self.shown)
        self.shown = None

    def event(self, event: Any) -> None:
        """An event read from the reviews or events topic."""
        if isinstance(event, Interrupt):
            if not self.questions.add(event) and event.escalation is not None and same(event, self.shown):
                say()
                say(f"   ({'escalated' if event.escalation == 'escalate' else 'reminder'}: this question is still open)")
                self.prompt()
        elif isinstance(event, Step):
            for question, item in self.questions.step(event):
                how = "answered elsewhere" if item.status == "resolved" else "closed elsewhere"
                self.closed(question, f"{how} by {item.resolved_by or '?'} ({item.status})")
        elif isinstance(event, Completed):
            self.ended += 1
            for question in self.questions.end_thread(event.thread_id):
                self.closed(question, "closed: the run completed")
            shown = {k: v for k, v in event.values.items() if k not in ("log", "draft")}
            self.note(f"-- thread {event.thread_id} completed: {json.dumps(shown, ensure_ascii=False)}")
        elif isinstance(event, Failed):
            self.ended += 1
            for question in self.questions.end_thread(event.thread_id):
                self.closed(question, f"closed: the run failed ({event.reason})")
            self.note(f"-- thread {event.thread_id} failed: {event.reason}")
        elif isinstance(event, Rejected):
            self.note(f"-- thread {event.thread_id}: command {event.command_id} refused ({event.reason}): {event.message}")
            self.note(f"   what to do: {explain_rejection(event.reason)}")

    def closed(self, question: Interrupt, how: str) -> None:
        """A question closed elsewhere: off the screen if it is on it, else off the list."""
        if same(question, self.shown):
            say()
            say(f"-- thread {question.thread_id}: question {how}")
            self.shown = None
            self.stale = question.thread_id
        else:
            self.note(f"-- thread {question.thread_id}: a waiting question {how}; it will not be asked")


def main(argv: list[str] | None = None, *, connect: Callable[..., Any] = ReviewClient) -> int:
    """The desk's command line. ``connect(servers, topic_prefix=..., group_id=...)`` makes the
    client (a context manager); tests pass an in-process event source instead of Kafka."""
    parser = argparse.ArgumentParser(description="Answer Interlude interrupts from the terminal.")
    parser.add_argument("--env-file", type=Path, help="read INTERLUDE_KAFKA_BOOTSTRAP_SERVERS and INTERLUDE_TOPIC_PREFIX from this file (interlude dev writes .interlude/dev.env)")
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap list. Default: $INTERLUDE_KAFKA_BOOTSTRAP_SERVERS or localhost:9092")
    parser.add_argument("--topic-prefix", help="Default: $INTERLUDE_TOPIC_PREFIX or interlude.")
    parser.add_argument("--group-id", help="consumer group; share it between desks that split the work. Default: a new group that reads everything")
    parser.add_argument("--auto", choices=["approve", "reject"], help="answer every approval without asking")
    parser.add_argument("--until", type=int, help="leave after this many runs ended (completed or failed)")
    arguments = parser.parse_args(argv)

    settings = dict(os.environ)
    if arguments.env_file is not None:
        if not arguments.env_file.is_file():
            say(f"error: {arguments.env_file} does not exist; start `interlude dev` first (it writes .interlude/dev.env)")
            return 2
        settings.update(read_env_file(arguments.env_file))
    servers = arguments.bootstrap_servers or settings.get("INTERLUDE_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    prefix = arguments.topic_prefix or settings.get("INTERLUDE_TOPIC_PREFIX", "interlude.")

    say(f"Review desk on {servers} (topics {prefix}*); waiting for interrupts (the first group join takes a few seconds)...")
    try:
        with connect(servers, topic_prefix=prefix, group_id=arguments.group_id) as client:
            desk = Desk(client, auto=arguments.auto, until=arguments.until)
            desk.run()
    except EndOfInput:
        say("(end of input: leaving; unanswered questions stay pending)")
        return 0
    except KeyboardInterrupt:
        say("(interrupted: leaving; unanswered questions stay pending)")
        return 130
    except InterludeError as error:
        say(f"error: {error}")
        return 1
    say(f"{desk.ended} runs ended; leaving.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
