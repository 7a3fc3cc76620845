#!/usr/bin/env python3
"""A terminal review app on interlude-review: shows each interrupt and sends your answer.

With ``interlude dev`` running in the repository::

    python clients/python/examples/review_desk.py --env-file .interlude/dev.env

Answers for the ``approval`` graph: ``a [comment]`` approves, ``r [comment]`` rejects,
``e <text>`` replaces the draft and asks again; any graph takes a JSON answer. ``--auto
approve`` (or ``reject``) answers without asking; ``--until N`` leaves after N runs ended.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from interlude_review import (
    Completed,
    Failed,
    Interrupt,
    InterludeError,
    Rejected,
    ReviewClient,
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


def main(argv: list[str] | None = None) -> int:
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
    ended = 0
    try:
        with ReviewClient(servers, topic_prefix=prefix, group_id=arguments.group_id) as client:
            while arguments.until is None or ended < arguments.until:
                event = client.poll(0.5)
                if isinstance(event, Interrupt):
                    show(event)
                    if arguments.auto is not None:
                        say(f"   > {arguments.auto}   (--auto)")
                        say("   " + (decide(client, event, arguments.auto) or "?"))
                        continue
                    while True:
                        say("   " + prompt_for(event))
                        try:
                            line = input("   > ")
                        except EOFError:
                            say("(end of input: leaving; unanswered questions stay pending)")
                            return 0
                        note = decide(client, event, line)
                        if note is not None:
                            say("   " + note)
                            break
                        say("   not understood")
                elif isinstance(event, Completed):
                    ended += 1
                    shown = {k: v for k, v in event.values.items() if k not in ("log", "draft")}
                    say(f"-- thread {event.thread_id} completed: {json.dumps(shown, ensure_ascii=False)}")
                elif isinstance(event, Failed):
                    ended += 1
                    say(f"-- thread {event.thread_id} failed: {event.reason}")
                elif isinstance(event, Rejected):
                    say(f"-- thread {event.thread_id}: command {event.command_id} refused ({event.reason}): {event.message}")
                    say(f"   what to do: {explain_rejection(event.reason)}")
    except KeyboardInterrupt:
        say("(interrupted: leaving; unanswered questions stay pending)")
        return 130
    except InterludeError as error:
        say(f"error: {error}")
        return 1
    say(f"{ended} runs ended; leaving.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
