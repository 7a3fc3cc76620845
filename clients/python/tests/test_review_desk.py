"""The terminal review desk (examples/review_desk.py): its open-question bookkeeping as plain
objects, then the desk itself in a real pseudo-terminal, on an in-process event source
(tests/desk_driver.py) instead of Kafka. No broker needed."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from interlude_review import Interrupt, Step, parse_message
from test_client import completed, review, step

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import review_desk  # noqa: E402
from review_desk import OpenQuestions, TypedLines  # noqa: E402

DRIVER = Path(__file__).resolve().parent / "desk_driver.py"


def interrupt(thread: str, question: str, **extra: Any) -> dict[str, Any]:
    return {**review(thread, question), **extra}


def closing(thread: str, n: int, *closed: tuple[str, str, str | None]) -> dict[str, Any]:
    """A step event of ``thread`` that closed ``(interrupt id, status, resolved_by)`` items."""
    items = [{"interrupt_id": i, "status": status, **({"resolved_by": by} if by else {})} for i, status, by in closed]
    return {**step(thread, f"other-{thread}-{n}", "ready", n), "resolved_interrupts": items}


def asked(thread: str, question: str, **extra: Any) -> Interrupt:
    return parse_message(interrupt(thread, question, **extra))  # type: ignore[return-value]


def closed_by(thread: str, n: int, *closed: tuple[str, str, str | None]) -> Step:
    return parse_message(closing(thread, n, *closed))  # type: ignore[return-value]


# MARK: the bookkeeping


def test_questions_are_asked_in_arrival_order() -> None:
    questions = OpenQuestions()
    for thread, question in [("t2", "b"), ("t1", "a"), ("t3", "c")]:
        assert questions.add(asked(thread, question))
    assert questions.current.interrupt_id == "b"
    questions.answered(questions.current)
    assert questions.current.interrupt_id == "a"
    assert len(questions) == 2


def test_a_step_drops_the_questions_it_closed_and_ignores_unknown_ids() -> None:
    questions = OpenQuestions()
    questions.add(asked("t1", "a"))
    questions.add(asked("t1", "b"))
    questions.add(asked("t2", "c"))
    dropped = questions.step(closed_by("t1", 1, ("b", "resolved", "bo"), ("zz", "resolved", "bo"), ("c", "expired", "timeout")))
    # "zz" was never asked and "c" is a question of another thread: only b closed.
    assert [(q.interrupt_id, item.status, item.resolved_by) for q, item in dropped] == [("b", "resolved", "bo")]
    assert [questions.current.interrupt_id, len(questions)] == ["a", 2]


def test_the_current_question_closed_elsewhere_gives_way_to_the_next() -> None:
    questions = OpenQuestions()
    questions.add(asked("t1", "a"))
    questions.add(asked("t2", "b"))
    dropped = questions.step(closed_by("t1", 1, ("a", "cancelled", None)))
    assert [(q.thread_id, item.status, item.resolved_by) for q, item in dropped] == [("t1", "cancelled", None)]
    assert questions.current.thread_id == "t2"
    assert questions.step(closed_by("t1", 2, ("a", "resolved", "bo"))) == []  # closed once


def test_a_question_closed_before_its_interrupt_event_is_never_opened() -> None:
    questions = OpenQuestions()
    assert questions.step(closed_by("t1", 1, ("a", "resolved", "bo"))) == []
    assert not questions.add(asked("t1", "a"))
    assert questions.current is None


def test_a_reminder_replaces_the_open_question_in_its_place_and_an_answered_one_stays_closed() -> None:
    questions = OpenQuestions()
    questions.add(asked("t1", "a"))
    questions.add(asked("t2", "b"))
    assert not questions.add(asked("t1", "a", escalation="remind"))
    assert (questions.current.interrupt_id, questions.current.escalation, len(questions)) == ("a", "remind", 2)
    questions.answered(questions.current)
    assert not questions.add(asked("t1", "a", escalation="escalate"))
    assert questions.current.interrupt_id == "b"


def test_a_thread_that_ended_closes_all_its_questions() -> None:
    questions = OpenQuestions()
    questions.add(asked("t1", "a"))
    questions.add(asked("t2", "b"))
    questions.add(asked("t1", "c"))
    assert [q.interrupt_id for q in questions.end_thread("t1")] == ["a", "c"]
    assert [questions.current.interrupt_id, len(questions)] == ["b", 1]


def test_closed_questions_are_remembered_up_to_the_memory() -> None:
    questions = OpenQuestions(memory=2)
    for question in ("a", "b", "c"):
        questions.close("t1", question)
    assert questions.add(asked("t1", "a"))  # forgotten: the oldest of three
    assert not questions.add(asked("t1", "c"))


def test_typed_lines_come_whole_and_a_last_line_without_newline_still_counts() -> None:
    read, write = os.pipe()
    lines = TypedLines(read)
    try:
        assert lines.next(0) is None
        os.write(write, "a fi".encode())
        assert lines.next(5) is None  # half a line is not a line
        os.write(write, "ne\nr ok\né".encode())
        os.close(write)
        assert [lines.next(5), lines.next(5), lines.next(5)] == ["a fine", "r ok", "é"]
        assert lines.next(5) is None and lines.ended
    finally:
        os.close(read)


# MARK: --auto, in process


class ListSource:
    """An in-process event source for the desk: events from a list, commands recorded."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = [parse_message(event) for event in events]
        self.sent: list[tuple[str, str, Any]] = []

    def __enter__(self) -> ListSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def poll(self, timeout: float) -> Any:
        if not self.events:
            raise AssertionError("the desk read past the events it was given")
        return self.events.pop(0)

    def answer(self, interrupt: Interrupt, value: Any, **options: Any) -> str:
        self.sent.append((interrupt.thread_id, interrupt.interrupt_id, value))
        return f"cmd-{len(self.sent)}"


def test_auto_answers_only_open_questions_and_until_still_ends_the_desk(capsys: pytest.CaptureFixture[str]) -> None:
    source = ListSource([
        closing("t1", 1, ("a", "resolved", "bo")),  # read before its interrupt event
        interrupt("t1", "a"),
        interrupt("t2", "b"),
        completed("t2", 2),
    ])
    assert review_desk.main(["--auto", "approve", "--until", "1"], connect=lambda *_, **__: source) == 0
    assert source.sent == [("t2", "b", {"approved": True, "comment": "approved in review"})]
    out = capsys.readouterr().out
    assert "== thread t1 asks" not in out
    assert "1 runs ended; leaving." in out


# MARK: the desk in a pseudo-terminal


class DeskInTerminal:
    """tests/desk_driver.py in a new pseudo-terminal (its controlling terminal: Ctrl-C is a
    SIGINT, Ctrl-D an end of input, as for a person at the desk)."""

    TIMEOUT = 20.0

    def __init__(self, *arguments: str) -> None:
        events_read, self.events = os.pipe()
        self.sent_read, sent_write = os.pipe()
        os.set_inheritable(events_read, True)
        os.set_inheritable(sent_write, True)
        environment = {**os.environ, "DESK_EVENTS_FD": str(events_read), "DESK_SENT_FD": str(sent_write)}
        self.pid, self.terminal = pty.fork()
        if self.pid == 0:  # the child: the terminal is its stdin, stdout and stderr
            try:
                os.close(self.events)
                os.close(self.sent_read)
                # A desk started at a terminal has SIGINT's default action and does not block it.
                # A test runner may leave SIGINT ignored or blocked (under the Swift suite this
                # test saw no KeyboardInterrupt); exec keeps both, so undo them here.
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
                os.execve(sys.executable, [sys.executable, str(DRIVER), *arguments], environment)
            finally:
                os._exit(127)
        os.close(events_read)
        os.close(sent_write)
        self.output = ""
        self.seen = 0
        self.exit_status: int | None = None

    def send(self, event: dict[str, Any]) -> None:
        os.write(self.events, json.dumps(event).encode() + b"\n")

    def type(self, text: str) -> None:
        os.write(self.terminal, text.encode())

    def _read(self, deadline: float) -> bool:
        """Reads what the desk wrote; ``False`` once the terminal closed (the desk left)."""
        if not select.select([self.terminal], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return True
        try:
            data = os.read(self.terminal, 65536)
        except OSError:  # EIO: no process holds the terminal any more
            return False
        self.output += data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        return bool(data)

    def expect(self, text: str) -> str:
        """Waits until ``text`` appears after what earlier calls matched; returns the output
        between, for checks that something was not shown."""
        deadline = time.monotonic() + self.TIMEOUT
        while (found := self.output.find(text, self.seen)) < 0:
            if time.monotonic() >= deadline or not self._read(deadline):
                raise AssertionError(f"the desk did not show {text!r}; it showed:\n{self.output}")
        skipped, self.seen = self.output[self.seen:found], found + len(text)
        return skipped

    def commands(self) -> list[dict[str, Any]]:
        """Every command the desk sent, once it left (the pipe is closed then)."""
        data = b""
        while chunk := os.read(self.sent_read, 65536):
            data += chunk
        return [json.loads(line) for line in data.decode().splitlines()]

    def wait(self) -> int:
        """Waits for the desk to leave and returns its exit status."""
        deadline = time.monotonic() + self.TIMEOUT
        while self._read(deadline):
            if time.monotonic() >= deadline:
                raise AssertionError(f"the desk did not leave; it showed:\n{self.output}")
        _, status = os.waitpid(self.pid, 0)
        self.exit_status = os.waitstatus_to_exitcode(status)
        return self.exit_status

    def close(self) -> None:
        if self.exit_status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        for fd in (self.terminal, self.events, self.sent_read):
            os.close(fd)


@pytest.fixture
def desk_in_terminal() -> Any:
    started: list[DeskInTerminal] = []

    def start(*arguments: str) -> DeskInTerminal:
        started.append(DeskInTerminal(*arguments))
        return started[-1]

    yield start
    for desk in started:
        desk.close()


def test_in_a_terminal_the_question_on_screen_closed_elsewhere_leaves_it_and_the_next_line_is_not_sent_to_the_next(desk_in_terminal: Any) -> None:
    desk = desk_in_terminal("--until", "1")
    desk.send(interrupt("t1", "a"))
    desk.send(interrupt("t2", "b"))
    desk.expect("== thread t1 asks")
    desk.expect("   > ")
    # Nothing typed: the desk reads events while the prompt waits.
    desk.send(closing("t1", 1, ("a", "resolved", "bo")))
    desk.expect("-- thread t1: question answered elsewhere by bo (resolved)")
    desk.expect("== thread t2 asks")
    desk.expect("   > ")
    desk.type("a meant for t1\n")
    desk.expect("not sent: 'a meant for t1' may have been typed for the question of thread t1 that closed; answer the question above again")
    desk.expect("   > ")
    desk.type("a fine\n")
    desk.expect("sent approval cmd-1")
    desk.send(completed("t2", 2))
    desk.expect("1 runs ended; leaving.")
    assert desk.wait() == 0
    assert desk.commands() == [{"thread_id": "t2", "interrupt_id": "b", "value": {"approved": True, "comment": "fine"}, "command_id": "cmd-1"}]


def test_in_a_terminal_a_waiting_question_closed_elsewhere_is_never_asked(desk_in_terminal: Any) -> None:
    desk = desk_in_terminal("--until", "1")
    desk.send(interrupt("t1", "a"))
    desk.send(interrupt("t2", "b"))
    desk.expect("== thread t1 asks")
    desk.send(closing("t2", 1, ("b", "expired", "timeout")))
    desk.send(interrupt("t3", "c"))
    desk.type("r too long\n")
    desk.expect("sent rejection cmd-1")
    # Held while the prompt waited, shown once it was answered.
    desk.expect("-- thread t2: a waiting question closed elsewhere by timeout (expired); it will not be asked")
    assert "thread t2 asks" not in desk.expect("== thread t3 asks")
    desk.send(completed("t1", 2))
    desk.expect("1 runs ended; leaving.")
    assert desk.wait() == 0
    assert [(c["thread_id"], c["value"]["approved"]) for c in desk.commands()] == [("t1", False)]


def test_in_a_terminal_end_of_input_leaves_with_status_0(desk_in_terminal: Any) -> None:
    desk = desk_in_terminal()
    desk.send(interrupt("t1", "a"))
    desk.expect("   > ")
    desk.type("\x04")  # Ctrl-D at the start of a line
    desk.expect("(end of input: leaving; unanswered questions stay pending)")
    assert desk.wait() == 0
    assert desk.commands() == []


def test_in_a_terminal_ctrl_c_leaves_with_status_130(desk_in_terminal: Any) -> None:
    desk = desk_in_terminal()
    desk.send(interrupt("t1", "a"))
    desk.expect("   > ")
    desk.type("\x03")
    desk.expect("(interrupted: leaving; unanswered questions stay pending)")
    assert desk.wait() == 130
    assert desk.commands() == []
