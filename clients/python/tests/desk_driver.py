#!/usr/bin/env python3
"""Runs ``examples/review_desk.py``'s ``main`` on an in-process event source instead of Kafka,
for test_review_desk.py, which starts it in a pseudo-terminal. The source reads events as JSON
lines from the pipe named by ``DESK_EVENTS_FD`` and writes each command the desk sends as a
JSON line to ``DESK_SENT_FD``. Arguments are the desk's (``--until 1``, ``--auto approve``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import review_desk  # noqa: E402
from interlude_review import Event, Interrupt, parse_message  # noqa: E402


class PipeSource:
    """What the desk uses of a ReviewClient: ``poll``, ``answer`` and ``update_state``."""

    def __init__(self, events_fd: int, sent_fd: int) -> None:
        self.events = review_desk.TypedLines(events_fd)
        self.sent_fd = sent_fd
        self.count = 0

    def __enter__(self) -> PipeSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.sent_fd)

    def poll(self, timeout: float) -> Event | None:
        line = self.events.next(timeout)
        return None if line is None else parse_message(line)  # type: ignore[return-value]

    def answer(self, interrupt: Interrupt, value: Any, **options: Any) -> str:
        return self.record({"thread_id": interrupt.thread_id, "interrupt_id": interrupt.interrupt_id, "value": value})

    def update_state(self, thread_id: str, values: Any, **options: Any) -> str:
        return self.record({"thread_id": thread_id, "update": values})

    def record(self, command: dict[str, Any]) -> str:
        self.count += 1
        command["command_id"] = f"cmd-{self.count}"
        os.write(self.sent_fd, json.dumps(command).encode() + b"\n")
        return command["command_id"]


if __name__ == "__main__":
    source = PipeSource(int(os.environ["DESK_EVENTS_FD"]), int(os.environ["DESK_SENT_FD"]))
    sys.exit(review_desk.main(sys.argv[1:], connect=lambda *_, **__: source))
