"""``ReviewClient``: answer Interlude interrupts and drive threads over Kafka (confluent-kafka).

One client owns one idempotent producer (commands) and one consumer-group member reading the
``reviews`` and ``events`` topics. Use it from one thread.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict, deque
from typing import Any, Callable, Deque, Generic, Iterator, Mapping, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from .errors import CommandRejected, DeliveryFailed, InterludeError, InvalidMessage, OutcomeTimeout, ResumeRejected
from .models import (
    JSON,
    Actor,
    Cancel,
    Command,
    Completed,
    Event,
    Failed,
    Interrupt,
    Rejected,
    Resume,
    Run,
    RunConfig,
    Step,
    UpdateState,
    new_command_id,
    parse_message,
)

__all__ = ["ReviewClient", "Topics", "PRODUCER_DEFAULTS", "CONSUMER_DEFAULTS"]

_log = logging.getLogger("interlude_review")

#: Producer settings applied unless ``producer_config`` overrides them. ``murmur2_random`` is
#: the Java client's partitioner, the one Interlude's workers use: with it a thread's commands
#: land on the same partition number as its events. Change it and ordering per thread is lost.
PRODUCER_DEFAULTS: Mapping[str, Any] = {
    "enable.idempotence": True,
    "partitioner": "murmur2_random",
    "linger.ms": 5,
    "client.id": "interlude-review",
}

#: Consumer settings applied unless ``consumer_config`` overrides them. Offsets are stored only
#: after the app handled an event (at-least-once), then committed every 5 seconds and on close.
CONSUMER_DEFAULTS: Mapping[str, Any] = {
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "enable.auto.offset.store": False,
    "client.id": "interlude-review",
}

#: What ``_read`` returns for a message it consumed but does not hand out.
_SKIPPED: Any = object()

K = TypeVar("K")
V = TypeVar("V")


class _Bounded(Generic[K, V]):
    """An insertion-ordered map that forgets its oldest entries past ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def setdefault(self, key: K, value: V) -> V:
        if key not in self._items:
            self.put(key, value)
        return self._items[key]


class Topics:
    """The topic names of one deployment, from its prefix (``INTERLUDE_TOPIC_PREFIX``)."""

    def __init__(self, prefix: str = "interlude.") -> None:
        self.prefix = prefix
        #: Commands that start, edit or cancel runs.
        self.runs = prefix + "runs"
        #: Answers from review apps.
        self.resumes = prefix + "resumes"
        #: One ``interrupt`` event per interrupt.
        self.reviews = prefix + "reviews"
        #: ``step``, ``completed``, ``failed`` and ``rejected`` events.
        self.events = prefix + "events"
        #: Dead letters.
        self.dlq = prefix + "dlq"


class ReviewClient:
    """Reads interrupts and events, sends commands, and waits for what became of them.

    Args:
        bootstrap_servers: Kafka's bootstrap list (``INTERLUDE_KAFKA_BOOTSTRAP_SERVERS``).
        topic_prefix: The deployment's topic prefix. Default: ``interlude.``.
        group_id: The consumer group. Default: a new group per client, which reads every
            partition from the start of the topics. Instances of one review app that share the
            work share a group id; with the default ``range`` assignment a member that owns
            ``reviews`` partition *p* also owns ``events`` partition *p*, so it sees the
            outcomes of the threads it reviews.
        producer_config: librdkafka properties for the producer (TLS, SASL, tuning); they
            override :data:`PRODUCER_DEFAULTS`.
        consumer_config: librdkafka properties for the consumer; they override
            :data:`CONSUMER_DEFAULTS`.
        delivery_timeout: Seconds a send waits for Kafka's acknowledgement. Default: 30.
        memory: How many event ids (for de-duplication), acknowledgements and outcomes the
            client remembers. Default: 100,000.
        signer: Signs every resume before it is sent (workers that require signed answers
            refuse unsigned ones). Default: none.

    Events are delivered at least once; the client drops copies of an event id it has seen.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "interlude.",
        group_id: str | None = None,
        producer_config: Mapping[str, Any] | None = None,
        consumer_config: Mapping[str, Any] | None = None,
        delivery_timeout: float = 30.0,
        memory: int = 100_000,
        signer: Any = None,
    ) -> None:
        self.topics = Topics(topic_prefix)
        #: The :class:`~interlude_review.signing.ResumeSigner` applied to resumes, if any.
        self.signer = signer
        self.delivery_timeout = delivery_timeout
        producer_settings = {**PRODUCER_DEFAULTS, **(producer_config or {}), "bootstrap.servers": bootstrap_servers}
        consumer_settings = {
            **CONSUMER_DEFAULTS,
            **(consumer_config or {}),
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id or f"interlude-review-{uuid.uuid4()}",
        }
        self._producer = Producer(producer_settings)
        try:
            self._consumer = Consumer(consumer_settings)
            self._consumer.subscribe([self.topics.reviews, self.topics.events])
        except Exception:
            self._producer.flush(1)
            raise
        self._seen: _Bounded[str, None] = _Bounded(memory)
        self._acks: _Bounded[str, tuple[int, Step | Failed]] = _Bounded(memory)
        self._rejections: _Bounded[str, Rejected] = _Bounded(memory)
        self._outcomes: _Bounded[str, tuple[int, Completed | Failed]] = _Bounded(memory)
        self._sent_types: _Bounded[str, str] = _Bounded(memory)
        self._buffer: Deque[tuple[Interrupt, Message]] = deque()
        self._handled: Message | None = None
        self._sequence = 0
        self._closed = False
        #: The partition the last sent command landed on (the thread's partition).
        self.last_partition: int | None = None
        #: Where the event :meth:`poll` returned last came from: ``(topic, partition, offset)``.
        self.last_position: tuple[str, int, int] | None = None
        #: Counters: events read, duplicates dropped, undecodable events skipped.
        self.stats = {"events": 0, "duplicates": 0, "invalid": 0}

    # MARK: sending

    def send(self, command: Command) -> str:
        """Produces a command (key: its thread id) and waits for Kafka's acknowledgement.

        Returns:
            The command id. Sending the same command object again is safe: workers apply an id
            once and ignore copies.

        Raises:
            DeliveryFailed: Kafka did not acknowledge it within ``delivery_timeout``.
        """
        if isinstance(command, Resume) and self.signer is not None and command.signature is None:
            command = self.signer.sign(command)
        topic = self.topics.resumes if isinstance(command, Resume) else self.topics.runs
        outcome: dict[str, Any] = {}

        def delivered(error: KafkaError | None, message: Message) -> None:
            outcome["error"] = error
            outcome["partition"] = message.partition()

        deadline = time.monotonic() + self.delivery_timeout
        payload = command.to_json()
        while True:
            try:
                self._producer.produce(
                    topic, key=command.thread_id.encode("utf-8"), value=payload,
                    headers=[("type", command.type.encode("ascii"))], on_delivery=delivered,
                )
                break
            except BufferError:
                if time.monotonic() >= deadline:
                    raise DeliveryFailed(f"the producer's queue stayed full for {self.delivery_timeout} s; {command.type} {command.id!r} was not sent") from None
                self._producer.poll(0.05)
            except KafkaException as error:
                raise DeliveryFailed(f"could not send {command.type} {command.id!r} to {topic}: {error}") from None
        self._sent_types.put(command.id, command.type)
        while "error" not in outcome:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeliveryFailed(
                    f"Kafka did not acknowledge {command.type} {command.id!r} on {topic} within {self.delivery_timeout} s; "
                    "it may or may not be written: send the same command again (same id) to be sure"
                )
            self._producer.poll(min(remaining, 0.1))
        if outcome["error"] is not None:
            raise DeliveryFailed(f"Kafka refused {command.type} {command.id!r} on {topic}: {outcome['error']}; send it again (same id)")
        self.last_partition = outcome["partition"]
        return command.id

    def start_run(
        self,
        thread_id: str,
        graph: str,
        input: Mapping[str, JSON] | None = None,
        *,
        config: RunConfig | None = None,
        if_busy: str | None = None,
        command_id: str | None = None,
    ) -> str:
        """Starts a run of ``graph`` on ``thread_id``; returns the command id."""
        return self.send(Run(thread_id=thread_id, graph=graph, input=None if input is None else dict(input), config=config, if_busy=if_busy, id=command_id or new_command_id()))  # type: ignore[arg-type]

    def answer(
        self, interrupt: Interrupt, value: JSON, *, command_id: str | None = None, checkpoint_id: str | None = None, actor: str | Actor | None = None
    ) -> str:
        """Answers a received interrupt (a ``resume`` by its interrupt id); returns the command id.

        ``actor`` says who answers (a user id, or an :class:`Actor` with roles): workers check it
        against the interrupt's ``approvers`` and record it. With a ``signer`` the resume is signed.
        """
        return self.resume(interrupt.thread_id, {interrupt.interrupt_id: value}, command_id=command_id, checkpoint_id=checkpoint_id, actor=actor)

    def resume(
        self, thread_id: str, answers: Mapping[str, JSON], *, command_id: str | None = None, checkpoint_id: str | None = None, actor: str | Actor | None = None
    ) -> str:
        """Answers interrupts of ``thread_id`` by id (``{interrupt_id: value}``); returns the command id.
        ``actor`` as in :meth:`answer`."""
        return self.send(Resume(thread_id=thread_id, values=dict(answers), checkpoint_id=checkpoint_id, id=command_id or new_command_id(), actor=_actor(actor)))

    def resume_pending(
        self, thread_id: str, value: JSON, *, command_id: str | None = None, checkpoint_id: str | None = None, actor: str | Actor | None = None
    ) -> str:
        """Answers the only pending interrupt of ``thread_id`` (``resume`` with ``value``)."""
        return self.send(Resume(thread_id=thread_id, value=value, checkpoint_id=checkpoint_id, id=command_id or new_command_id(), actor=_actor(actor)))

    def update_state(
        self,
        thread_id: str,
        values: Mapping[str, JSON] | None,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
        continue_run: bool = False,
        command_id: str | None = None,
    ) -> str:
        """Edits the thread's state as ``as_node`` (a fork when ``checkpoint_id`` is a past
        checkpoint) and optionally continues the run; returns the command id."""
        return self.send(UpdateState(
            thread_id=thread_id, values=None if values is None else dict(values), as_node=as_node,
            checkpoint_id=checkpoint_id, continue_run=continue_run, id=command_id or new_command_id(),
        ))

    def cancel(self, thread_id: str, reason: str | None = None, *, command_id: str | None = None) -> str:
        """Cancels the thread (it ends ``failed`` with reason ``cancelled``); returns the command id."""
        return self.send(Cancel(thread_id=thread_id, reason=reason, id=command_id or new_command_id()))

    # MARK: reading

    def poll(self, timeout: float = 1.0) -> Event | None:
        """The next event not seen before, or ``None`` after ``timeout`` seconds.

        Returning from ``poll`` again marks the previous event handled: its offset is stored
        and committed (at-least-once: an app that crashes while handling sees it again).
        Interrupts read while a ``wait_for_*`` call was waiting are returned here first;
        other events read by a wait are not returned again.
        """
        self._mark_handled()
        if self._buffer:
            interrupt, message = self._buffer.popleft()
            self._handled = message
            self.last_position = _position(message)
            return interrupt
        deadline = time.monotonic() + timeout
        while True:
            read = self._read(max(0.0, deadline - time.monotonic()))
            if read is _SKIPPED:
                continue  # a copy or an undecodable event: messages are flowing, read on
            if read is not None:
                event, message = read
                self._handled = message
                self.last_position = _position(message)
                return event
            if time.monotonic() >= deadline:
                return None

    def interrupts(self, *, idle_timeout: float | None = None, poll_interval: float = 0.5) -> Iterator[Interrupt]:
        """Yields new interrupts as they come; the loop body handles one (an interrupt is
        marked handled when the loop asks for the next). Other events update what
        ``wait_for_*`` knows.

        Args:
            idle_timeout: Stop after this many seconds without an interrupt. Default: never.
            poll_interval: Seconds per poll. Default: 0.5.
        """
        idle_since = time.monotonic()
        while True:
            event = self.poll(poll_interval)
            if isinstance(event, Interrupt):
                idle_since = time.monotonic()
                yield event
            elif idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                self._mark_handled()
                return

    def wait_for_command(self, command_id: str, timeout: float) -> Step | Failed:
        """Waits until a worker applied the command and returns the first event naming it:
        a ``step`` (or the ``failed`` event of a ``cancel``).

        Raises:
            ResumeRejected: the command was a resume this client sent and a worker refused it.
            CommandRejected: another command was refused (``reason``, ``detail``).
            OutcomeTimeout: neither happened within ``timeout`` seconds.
        """
        self._wait(lambda: self._settled(command_id), timeout, f"command {command_id!r} to be applied or rejected")
        return self._settled(command_id)[1]  # type: ignore[index]

    def wait_for_outcome(self, thread_id: str, timeout: float, *, command_id: str | None = None) -> Completed | Failed:
        """Waits until ``thread_id`` ends and returns its ``completed`` or ``failed`` event.

        With ``command_id`` (a command sent to this thread), only an outcome after that
        command was applied counts, and a rejection of it raises at once. Without it, any
        outcome of the thread this client has read counts, also one read earlier.

        Raises:
            ResumeRejected / CommandRejected: ``command_id`` was refused.
            OutcomeTimeout: no outcome within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        after = 0
        if command_id is not None:
            after = self._wait(lambda: self._settled(command_id), timeout, f"command {command_id!r} to be applied or rejected")[0]

        def outcome() -> tuple[int, Completed | Failed] | None:
            found = self._outcomes.get(thread_id)
            return found if found is not None and found[0] > after else None

        return self._wait(outcome, max(0.0, deadline - time.monotonic()), f"thread {thread_id!r} to complete or fail")[1]

    # MARK: life cycle

    def close(self) -> None:
        """Flushes unsent commands, commits the offsets of handled events and leaves the group."""
        if self._closed:
            return
        self._closed = True
        self._mark_handled()
        try:
            self._producer.flush(self.delivery_timeout)
        finally:
            self._consumer.close()

    def __enter__(self) -> ReviewClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # MARK: internals

    def _mark_handled(self) -> None:
        if self._handled is not None:
            self._store(self._handled)
            self._handled = None

    def _store(self, message: Message) -> None:
        try:
            self._consumer.store_offsets(message=message)
        except KafkaException as error:
            # The partition was revoked meanwhile: its new owner reads the event again.
            _log.info("offset not stored (partition no longer assigned): %s", error)

    def _store_passed(self, message: Message) -> None:
        """Stores the offset of a message nobody has to handle (a copy, an undecodable event,
        an event a wait consumed), unless an earlier message of its partition is still
        unhandled: storing past it would commit it unhandled. Such an offset is covered later
        by the next handled message of that partition."""
        where = (message.topic(), message.partition())
        pending = [pending for _, pending in self._buffer]
        if self._handled is not None:
            pending.append(self._handled)
        if any((other.topic(), other.partition()) == where for other in pending):
            return
        self._store(message)

    def _read(self, timeout: float) -> Any:
        """Reads one message and records it. Returns ``(event, message)`` for a new event,
        ``_SKIPPED`` for a copy or an undecodable message (marked handled at once), ``None``
        when nothing came."""
        message = self._consumer.poll(timeout)
        if message is None:
            return None
        error = message.error()
        if error is not None:
            if error.fatal():
                raise InterludeError(f"the Kafka consumer failed: {error}")
            _log.debug("consumer: %s", error)
            return _SKIPPED
        self.stats["events"] += 1
        try:
            event = parse_message(message.value() or b"")
        except InvalidMessage as problem:
            self.stats["invalid"] += 1
            _log.warning("skipped an undecodable event at %s[%d]@%d: %s", message.topic(), message.partition(), message.offset(), problem)
            self._store_passed(message)
            return _SKIPPED
        if isinstance(event, (Run, Resume, UpdateState, Cancel)) or event.type == "dead_letter":
            _log.warning("skipped a %s message on %s: review topics carry events only", event.type, message.topic())
            self._store_passed(message)
            return _SKIPPED
        key = _dedup_key(event)  # type: ignore[arg-type]
        if key in self._seen:
            self.stats["duplicates"] += 1
            self._store_passed(message)
            return _SKIPPED
        self._seen.put(key, None)
        self._record(event)  # type: ignore[arg-type]
        return event, message  # type: ignore[return-value]

    def _record(self, event: Event) -> None:
        self._sequence += 1
        if isinstance(event, (Step, Failed)) and event.command_id is not None:
            self._acks.setdefault(event.command_id, (self._sequence, event))
            if isinstance(event, Failed):
                self._outcomes.put(event.thread_id, (self._sequence, event))
        elif isinstance(event, Rejected):
            self._rejections.put(event.command_id, event)
        elif isinstance(event, (Completed, Failed)):
            self._outcomes.put(event.thread_id, (self._sequence, event))

    def _settled(self, command_id: str) -> tuple[int, Step | Failed] | None:
        rejected = self._rejections.get(command_id)
        if rejected is not None:
            kind = ResumeRejected if self._sent_types.get(command_id) == "resume" else CommandRejected
            raise kind(rejected.reason, rejected.message, command_id=command_id, thread_id=rejected.thread_id)
        return self._acks.get(command_id)

    def _wait(self, found: Callable[[], V | None], timeout: float, what: str) -> V:
        """Reads events until ``found()`` returns something. Interrupts read meanwhile are
        kept for :meth:`poll`; other events only update the records."""
        deadline = time.monotonic() + timeout
        while True:
            result = found()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutcomeTimeout(f"timed out after {timeout:g} s waiting for {what}")
            read = self._read(min(remaining, 0.2))
            if read is None or read is _SKIPPED:
                continue
            event, message = read
            if isinstance(event, Interrupt):
                self._buffer.append((event, message))
            else:
                self._store_passed(message)


def _position(message: Message) -> tuple[str, int, int]:
    return (message.topic() or "", message.partition() or 0, message.offset() or 0)


def _dedup_key(event: Event) -> str:
    """The event id, plus the command id for ``step`` events. Workers name a step event by its
    checkpoint and command (``step-<checkpoint id>-<command id>``); workers before that named it
    by the checkpoint alone, so a ``cancel`` of a paused thread (no new checkpoint) repeated the
    id of the step that paused it. Keying by both works with either. A redelivered copy has the
    same command id too, so it is still dropped."""
    if isinstance(event, Step):
        return f"{event.id}\u0000{event.command_id or ''}"
    return event.id


def _actor(actor: str | Actor | None) -> Actor | None:
    """A user id or an :class:`Actor` as an :class:`Actor`."""
    if actor is None or isinstance(actor, Actor):
        return actor
    return Actor(actor)
