"""Typed models of every message in ``schemas/kafka/`` (schema version 1).

Commands (``Run``, ``Resume``, ``UpdateState``, ``Cancel``) are what apps send; events
(``Interrupt``, ``Step``, ``Completed``, ``Failed``, ``Rejected``) and ``DeadLetter`` are what
workers publish. Every model has ``to_dict()`` / ``to_json()`` giving exactly the wire JSON and
``from_dict()`` reading it back; :func:`parse_message` picks the model by ``type``.

Commands check their fields when they are built (the same limits the workers apply), so a bad
command raises :class:`~interlude_review.errors.InvalidMessage` here instead of landing on the
dead-letter topic.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, Mapping, Union

from .errors import InvalidMessage

__all__ = [
    "SCHEMA_VERSION",
    "JSON",
    "UNSET",
    "RunConfig",
    "Actor",
    "Signature",
    "Run",
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
]

#: The message schema version this package reads and writes.
SCHEMA_VERSION = 1

#: Any JSON value (``None``, bool, int, float, str, list, dict with str keys).
JSON = Any

#: The longest command id and thread id the workers accept, in UTF-8 bytes.
MAX_ID_BYTES = 256

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class _Unset:
    """Marks an absent field where ``None`` would be the JSON value ``null``."""

    _instance: ClassVar[_Unset | None] = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: The value of ``Resume.value`` when the resume answers by id (``values``) instead.
UNSET: Any = _Unset()


def new_command_id() -> str:
    """A fresh command id (a random UUID). Keep it to send the same command again safely."""
    return str(uuid.uuid4())


def _utc_now() -> datetime:
    """Now, to the millisecond (what the wire carries), so a command reads back equal."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the workers write it: ``2026-11-22T10:15:00.000Z``.
    A naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: Any, field_name: str = "created_at") -> datetime:
    """Reads an RFC 3339 timestamp (with or without fractional seconds, ``Z`` or an offset).

    Raises:
        InvalidMessage: naming ``field_name`` when ``text`` is not such a timestamp.
    """
    if not isinstance(text, str):
        raise InvalidMessage(f"field {field_name!r} must be an RFC 3339 timestamp string, not {type(text).__name__}", field=field_name)
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise InvalidMessage(f"field {field_name!r} is not an RFC 3339 timestamp: {text!r}", field=field_name) from None
    if moment.tzinfo is None:
        raise InvalidMessage(f"field {field_name!r} has no time zone (end it with Z): {text!r}", field=field_name)
    return moment


# MARK: field checks


def _require_id(name: str, value: Any) -> str:
    """Checks an id as the workers do: a non-empty string of at most 256 UTF-8 bytes without
    control characters."""
    if not isinstance(value, str) or not value:
        raise InvalidMessage(f"field {name!r} must be a non-empty string", field=name)
    size = len(value.encode("utf-8"))
    if size > MAX_ID_BYTES:
        raise InvalidMessage(
            f"field {name!r} is {size} bytes long; the limit is {MAX_ID_BYTES} bytes (use a shorter id, such as a UUID)",
            field=name,
        )
    for character in value:
        if ord(character) < 0x20 or ord(character) == 0x7F:
            raise InvalidMessage(f"field {name!r} contains the control character U+{ord(character):04X}; ids must be printable text", field=name)
    return value


def _require_text(name: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        raise InvalidMessage(f"field {name!r} must be a {'' if allow_empty else 'non-empty '}string", field=name)
    return value


def _optional_checkpoint(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _UUID.match(value):
        raise InvalidMessage(f"field {name!r} is not a checkpoint id (a UUID): {value!r}", field=name)
    return value


def _require_checkpoint(name: str, value: Any) -> str:
    if value is None:
        raise InvalidMessage(f"missing field {name!r}", field=name)
    checked = _optional_checkpoint(name, value)
    assert checked is not None
    return checked


def _optional_object(name: str, value: Any) -> dict[str, JSON] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise InvalidMessage(f"field {name!r} must be a JSON object (a dict with string keys)", field=name)
    return dict(value)


def _require_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidMessage(f"field {name!r} must be an integer", field=name)
    if minimum is not None and value < minimum:
        raise InvalidMessage(f"field {name!r} must be at least {minimum}, not {value}", field=name)
    return value


def _check_json(name: str, value: Any) -> None:
    """Refuses what JSON cannot carry and NUL characters, which PostgreSQL cannot store (the
    workers dead-letter such commands)."""

    def walk(item: Any, path: str) -> None:
        if item is None or isinstance(item, (bool, int, float)):
            return
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidMessage(f"field {path!r} contains a NUL character (\\u0000), which cannot be stored; remove it", field=name)
            return
        if isinstance(item, (list, tuple)):
            for index, child in enumerate(item):
                walk(child, f"{path}[{index}]")
            return
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidMessage(f"field {path!r} has a non-string key {key!r}; JSON object keys are strings", field=name)
                if "\x00" in key:
                    raise InvalidMessage(f"a member name in {path!r} contains a NUL character (\\u0000); remove it", field=name)
                walk(child, f"{path}.{key}")
            return
        raise InvalidMessage(f"field {path!r} holds a {type(item).__name__}, which is not a JSON value", field=name)

    walk(value, name)


def _envelope(type_name: str, message_id: str, thread_id: str | None, created_at: datetime) -> dict[str, JSON]:
    envelope: dict[str, JSON] = {"type": type_name, "schema_version": SCHEMA_VERSION, "id": message_id}
    if thread_id is not None:
        envelope["thread_id"] = thread_id
    envelope["created_at"] = format_timestamp(created_at)
    return envelope


def _check_envelope(data: Mapping[str, Any], expected_type: str) -> None:
    if data.get("type") != expected_type:
        raise InvalidMessage(f"field 'type' is {data.get('type')!r}, expected {expected_type!r}", field="type")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InvalidMessage(
            f"schema_version {version!r} is not supported; interlude-review reads version {SCHEMA_VERSION} (upgrade the package)",
            field="schema_version",
        )


def _header(data: Mapping[str, Any], expected_type: str, *, thread: bool = True) -> dict[str, Any]:
    """Checks ``type`` and ``schema_version`` and reads ``id``, ``thread_id`` and ``created_at``."""
    _check_envelope(data, expected_type)
    header: dict[str, Any] = {"id": _require_text("id", _get(data, "id"), allow_empty=not thread)}
    if thread:
        header["thread_id"] = _require_text("thread_id", _get(data, "thread_id"))
    header["created_at"] = parse_timestamp(_get(data, "created_at"))
    return header


def _put_optional(out: dict[str, JSON], **fields: Any) -> None:
    """Adds the fields that are not ``None``."""
    out.update((name, value) for name, value in fields.items() if value is not None)


def _get(data: Mapping[str, Any], name: str, *, at: str = "") -> Any:
    """``data[name]``, refused when absent or null. ``at`` is the path of ``data`` inside the
    message (``resolved_interrupts[2].``), so the error names the whole field path."""
    if name not in data or data[name] is None:
        raise InvalidMessage(f"missing field {at + name!r}", field=at + name)
    return data[name]


# MARK: commands


@dataclass(frozen=True)
class RunConfig:
    """Optional settings of a run (``run.config``)."""

    #: Supersteps allowed (at least 1). Default: the workers' (25).
    recursion_limit: int | None = None
    #: Metadata stored on the checkpoints the run creates.
    metadata: dict[str, JSON] | None = None
    #: Pause before these nodes, for this run.
    interrupt_before: list[str] | None = None
    #: Pause after these nodes, for this run.
    interrupt_after: list[str] | None = None

    def __post_init__(self) -> None:
        if self.recursion_limit is not None:
            _require_int("config.recursion_limit", self.recursion_limit, minimum=1)
        _optional_object("config.metadata", self.metadata)
        _check_json("config.metadata", self.metadata)
        for name in ("interrupt_before", "interrupt_after"):
            nodes = getattr(self, name)
            if nodes is not None and (not isinstance(nodes, (list, tuple)) or not all(isinstance(n, str) for n in nodes)):
                raise InvalidMessage(f"field 'config.{name}' must be a list of node names", field=f"config.{name}")

    def to_dict(self) -> dict[str, JSON]:
        """The ``config`` object, without the settings left at ``None``."""
        out: dict[str, JSON] = {}
        _put_optional(out, recursion_limit=self.recursion_limit, metadata=self.metadata)
        if self.interrupt_before is not None:
            out["interrupt_before"] = list(self.interrupt_before)
        if self.interrupt_after is not None:
            out["interrupt_after"] = list(self.interrupt_after)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        """Reads a ``config`` object. Raises :class:`InvalidMessage` on unknown settings."""
        members = _optional_object("config", data) or {}
        unknown = set(members) - {"recursion_limit", "metadata", "interrupt_before", "interrupt_after"}
        if unknown:
            raise InvalidMessage(f"field 'config' has unknown settings: {', '.join(sorted(unknown))}", field="config")
        return cls(
            recursion_limit=members.get("recursion_limit"),
            metadata=members.get("metadata"),
            interrupt_before=members.get("interrupt_before"),
            interrupt_after=members.get("interrupt_after"),
        )


class _Serializable:
    """``to_json`` for every model."""

    def to_dict(self) -> dict[str, JSON]:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_json(self) -> bytes:
        """The message as compact UTF-8 JSON bytes, ready to produce."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


@dataclass(frozen=True)
class Run(_Serializable):
    """Starts a run of a registered graph on a thread (topic ``runs``, key: thread id)."""

    type: ClassVar[str] = "run"
    #: The thread; also the Kafka key.
    thread_id: str
    #: The registered graph's name, e.g. ``approval``.
    graph: str
    #: The input, fields by state channel name. Default: none (``{}``).
    input: dict[str, JSON] | None = None
    #: Optional run settings.
    config: RunConfig | None = None
    #: ``reject`` (default on the worker) refuses a paused or running thread with ``thread_busy``;
    #: ``restart`` starts over anyway.
    if_busy: Literal["reject", "restart"] | None = None
    #: The command id: the key of idempotency (workers apply an id once).
    id: str = field(default_factory=new_command_id)
    #: When the command was created.
    created_at: datetime = field(default_factory=_utc_now)

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        _require_id("thread_id", self.thread_id)
        _require_text("graph", self.graph)
        _optional_object("input", self.input)
        _check_json("input", self.input)
        if self.config is not None and not isinstance(self.config, RunConfig):
            raise InvalidMessage("field 'config' must be a RunConfig", field="config")
        if self.if_busy not in (None, "reject", "restart"):
            raise InvalidMessage(f"field 'if_busy' must be 'reject' or 'restart', not {self.if_busy!r}", field="if_busy")

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        out["graph"] = self.graph
        if self.input is not None:
            out["input"] = self.input
        if self.config is not None:
            out["config"] = self.config.to_dict()
        if self.if_busy is not None:
            out["if_busy"] = self.if_busy
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        config = data.get("config")
        return cls(
            **header,
            graph=_get(data, "graph"),
            input=data.get("input"),
            config=None if config is None else RunConfig.from_dict(config),
            if_busy=data.get("if_busy"),
        )


@dataclass(frozen=True)
class Actor:
    """Who answers a resume: a user id and the roles the user holds.

    Workers check it against the interrupt's ``approvers`` (``not_allowed`` otherwise) and record
    it as the interrupt's ``resolved_by`` and in checkpoint metadata. Unsigned, it is what the
    sender says; sign resumes (:class:`~interlude_review.signing.ResumeSigner`) to prove it.
    """

    #: The user id (non-empty).
    id: str
    #: Roles the user holds.
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidMessage("field 'actor.id' must be a non-empty string", field="actor")
        if isinstance(self.roles, str) or not all(isinstance(role, str) for role in self.roles):
            raise InvalidMessage("field 'actor.roles' must be a list of strings", field="actor")
        object.__setattr__(self, "roles", tuple(self.roles))

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON: ``{"id": ..., "roles": [...]}`` (``roles`` always present)."""
        return {"id": self.id, "roles": list(self.roles)}

    @classmethod
    def from_dict(cls, data: Any) -> Actor:
        """Reads the wire JSON."""
        if not isinstance(data, Mapping):
            raise InvalidMessage("field 'actor' must be an object {id, roles}", field="actor")
        return cls(id=data.get("id"), roles=tuple(data.get("roles") or ()))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Signature:
    """An Ed25519 signature over a resume (see :mod:`interlude_review.signing`)."""

    #: The id of the signing key in the workers' key set.
    key_id: str
    #: When it was signed, whole seconds since 1970 (UTC).
    issued_at: int
    #: When it stops being valid, whole seconds since 1970 (UTC).
    expires_at: int
    #: The 64-byte signature, standard base64.
    sig: str

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        return {"key_id": self.key_id, "issued_at": self.issued_at, "expires_at": self.expires_at, "sig": self.sig}

    @classmethod
    def from_dict(cls, data: Any) -> Signature:
        """Reads the wire JSON."""
        if not isinstance(data, Mapping):
            raise InvalidMessage("field 'signature' must be an object", field="signature")
        return cls(
            key_id=_require_text("signature.key_id", data.get("key_id")),
            issued_at=_require_int("signature.issued_at", data.get("issued_at")),
            expires_at=_require_int("signature.expires_at", data.get("expires_at")),
            sig=_require_text("signature.sig", data.get("sig")),
        )


@dataclass(frozen=True)
class Resume(_Serializable):
    """Answers interrupts (topic ``resumes``, key: thread id).

    Give either ``values`` (answers by interrupt id: the usual form, see :meth:`answer`) or
    ``value`` (answers the thread's only pending interrupt, see :meth:`answer_pending`), never
    both. ``actor`` says who answers; ``signature`` proves it (workers that require signed
    answers refuse a resume without one).
    """

    type: ClassVar[str] = "resume"
    #: The thread; also the Kafka key.
    thread_id: str
    #: Answers by interrupt id.
    values: dict[str, JSON] | None = None
    #: The answer to the only pending interrupt (may be ``None``, JSON null); ``UNSET`` when
    #: ``values`` is used.
    value: JSON = UNSET
    #: Apply only if the thread's head is this checkpoint (else ``checkpoint_mismatch``).
    checkpoint_id: str | None = None
    #: The command id: the key of idempotency.
    id: str = field(default_factory=new_command_id)
    #: When the command was created.
    created_at: datetime = field(default_factory=_utc_now)
    #: Who answers.
    actor: Actor | None = None
    #: The signature over thread, answers, actor and times.
    signature: Signature | None = None

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        _require_id("thread_id", self.thread_id)
        if isinstance(self.actor, str):
            object.__setattr__(self, "actor", Actor(self.actor))
        has_value = self.value is not UNSET
        if has_value == (self.values is not None):
            raise InvalidMessage(
                "a resume needs exactly one of 'value' (one answer) or 'values' (answers by interrupt id)",
                field="values",
            )
        if self.values is not None:
            _optional_object("values", self.values)
            if not self.values:
                raise InvalidMessage("field 'values' must answer at least one interrupt id", field="values")
            _check_json("values", self.values)
        else:
            _check_json("value", self.value)
        _optional_checkpoint("checkpoint_id", self.checkpoint_id)

    @classmethod
    def answer(cls, interrupt: Interrupt, value: JSON, **options: Any) -> Resume:
        """Answers one received interrupt by its id, on its thread."""
        return cls(thread_id=interrupt.thread_id, values={interrupt.interrupt_id: value}, **options)

    @classmethod
    def answer_pending(cls, thread_id: str, value: JSON, **options: Any) -> Resume:
        """Answers the thread's only pending interrupt (``ambiguous_resume`` if there are several)."""
        return cls(thread_id=thread_id, value=value, **options)

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        if self.values is not None:
            out["values"] = self.values
        else:
            out["value"] = self.value
        if self.checkpoint_id is not None:
            out["checkpoint_id"] = self.checkpoint_id
        if self.actor is not None:
            out["actor"] = self.actor.to_dict()
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resume:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        actor = data.get("actor")
        signature = data.get("signature")
        return cls(
            **header,
            values=data.get("values"),
            value=data["value"] if "value" in data else UNSET,
            checkpoint_id=data.get("checkpoint_id"),
            actor=None if actor is None else Actor.from_dict(actor),
            signature=None if signature is None else Signature.from_dict(signature),
        )


@dataclass(frozen=True)
class UpdateState(_Serializable):
    """Edits a thread's state as a node; on a past checkpoint it forks (topic ``runs``)."""

    type: ClassVar[str] = "update_state"
    #: The thread; also the Kafka key.
    thread_id: str
    #: The values to apply through the reducers; ``None`` (JSON null) with ``as_node="__end__"``
    #: clears a paused thread.
    values: dict[str, JSON] | None
    #: Apply as if this node wrote the values (decides what runs next).
    as_node: str | None = None
    #: Edit this past checkpoint (a fork) instead of the head.
    checkpoint_id: str | None = None
    #: Continue the run after the edit. Default: false.
    continue_run: bool = False
    #: The command id: the key of idempotency.
    id: str = field(default_factory=new_command_id)
    #: When the command was created.
    created_at: datetime = field(default_factory=_utc_now)

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        _require_id("thread_id", self.thread_id)
        _optional_object("values", self.values)
        _check_json("values", self.values)
        if self.as_node is not None:
            _require_text("as_node", self.as_node)
        _optional_checkpoint("checkpoint_id", self.checkpoint_id)
        if not isinstance(self.continue_run, bool):
            raise InvalidMessage("field 'continue' must be a boolean", field="continue")

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        out["values"] = self.values
        _put_optional(out, as_node=self.as_node, checkpoint_id=self.checkpoint_id)
        out["continue"] = self.continue_run
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpdateState:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        return cls(
            **header,
            values=data.get("values"),
            as_node=data.get("as_node"),
            checkpoint_id=data.get("checkpoint_id"),
            continue_run=data.get("continue", False),
        )


@dataclass(frozen=True)
class Cancel(_Serializable):
    """Ends a thread: pending interrupts are cancelled, it fails with reason ``cancelled``
    (topic ``runs``)."""

    type: ClassVar[str] = "cancel"
    #: The thread; also the Kafka key.
    thread_id: str
    #: Why, stored in the failure reason.
    reason: str | None = None
    #: The command id: the key of idempotency.
    id: str = field(default_factory=new_command_id)
    #: When the command was created.
    created_at: datetime = field(default_factory=_utc_now)

    def __post_init__(self) -> None:
        _require_id("id", self.id)
        _require_id("thread_id", self.thread_id)
        if self.reason is not None:
            _require_text("reason", self.reason, allow_empty=True)
            _check_json("reason", self.reason)

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cancel:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        return cls(
            **header,
            reason=data.get("reason"),
        )


# MARK: events


@dataclass(frozen=True)
class Interrupt(_Serializable):
    """A question for a human (topic ``reviews``, key: thread id). One event per interrupt;
    delivered at least once: de-duplicate by ``id``."""

    type: ClassVar[str] = "interrupt"
    #: The event id, stable across redeliveries (``review-<interrupt id>``).
    id: str
    thread_id: str
    created_at: datetime
    #: The graph's name and version.
    graph: str
    graph_version: int
    #: The checkpoint the thread paused at.
    checkpoint_id: str
    #: The id to answer (``Resume.values`` key).
    interrupt_id: str
    #: The node that asked.
    node: str
    #: What the node asked (any JSON).
    value: JSON
    #: Answer before this, or the graph's default applies (or the run fails ``timeout``).
    deadline: datetime | None = None
    #: Only for a question asked inside a subgraph: the subgraph's namespace (``<node>:<task id>``
    #: or ``<node>``). Answer by ``interrupt_id`` on the thread as for any question.
    namespace: str | None = None
    #: Who may answer: ``{"users": [...], "roles": [...]}``; ``None``: anyone.
    approvers: dict[str, Any] | None = None
    #: ``"remind"`` or ``"escalate"`` when an escalation step published the question again.
    escalation: str | None = None

    def allows(self, actor: Actor | None) -> bool:
        """``True`` when ``actor`` may answer (always, without approvers)."""
        if self.approvers is None:
            return True
        if actor is None:
            return False
        return actor.id in self.approvers.get("users", []) or any(role in self.approvers.get("roles", []) for role in actor.roles)

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        out.update(
            graph=self.graph,
            graph_version=self.graph_version,
            checkpoint_id=self.checkpoint_id,
            interrupt_id=self.interrupt_id,
            node=self.node,
            value=self.value,
        )
        if self.deadline is not None:
            out["deadline"] = format_timestamp(self.deadline)
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.approvers is not None:
            out["approvers"] = self.approvers
        if self.escalation is not None:
            out["escalation"] = self.escalation
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Interrupt:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        if "value" not in data:
            raise InvalidMessage("missing field 'value'", field="value")
        deadline = data.get("deadline")
        return cls(
            **header,
            graph=_require_text("graph", _get(data, "graph"), allow_empty=True),
            graph_version=_require_int("graph_version", _get(data, "graph_version")),
            checkpoint_id=_require_checkpoint("checkpoint_id", data.get("checkpoint_id")),
            interrupt_id=_require_text("interrupt_id", _get(data, "interrupt_id"), allow_empty=True),
            node=_require_text("node", _get(data, "node"), allow_empty=True),
            value=data["value"],
            deadline=None if deadline is None else parse_timestamp(deadline, "deadline"),
            namespace=None if data.get("namespace") is None else _require_text("namespace", data["namespace"]),
            approvers=data.get("approvers"),
            escalation=data.get("escalation"),
        )


StepStatus = Literal["ready", "interrupted", "completed", "failed"]

#: How a question closed: answered (``resolved``), past its deadline (``expired``) or left
#: behind by new input, an edit or a fork (``cancelled``). The interrupt statuses other than
#: ``pending``.
ClosedStatus = Literal["resolved", "expired", "cancelled"]

_CLOSED_STATUSES: tuple[str, ...] = ("resolved", "expired", "cancelled")


@dataclass(frozen=True)
class ResolvedInterrupt:
    """A question a step's commit closed (an item of ``Step.resolved_interrupts``): a review
    app stops showing it, since it was answered elsewhere, expired or was cancelled."""

    #: The interrupt id (``Interrupt.interrupt_id``), on the step's thread.
    interrupt_id: str
    #: ``resolved``, ``expired`` or ``cancelled``.
    status: ClosedStatus
    #: Who closed it: the answering actor's id, else the command id, or ``timeout``.
    resolved_by: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON (``resolved_by`` only when known)."""
        out: dict[str, JSON] = {"interrupt_id": self.interrupt_id, "status": self.status}
        _put_optional(out, resolved_by=self.resolved_by)
        return out

    @classmethod
    def from_dict(cls, data: Any, at: str = "resolved_interrupts[0]") -> ResolvedInterrupt:
        """Reads one item; ``at`` is its path in the message, named by every error."""
        if not isinstance(data, Mapping):
            raise InvalidMessage(f"field {at!r} must be an object {{interrupt_id, status, resolved_by}}", field=at)
        interrupt_id = _require_text(at + ".interrupt_id", _get(data, "interrupt_id", at=at + "."))
        status = _get(data, "status", at=at + ".")
        if status not in _CLOSED_STATUSES:
            raise InvalidMessage(
                f"field {at + '.status'!r} is {status!r}, not how a question closes: expected one of "
                f"{', '.join(_CLOSED_STATUSES)} (a step lists only closed questions)",
                field=at + ".status",
            )
        resolved_by = data.get("resolved_by")
        return cls(
            interrupt_id=interrupt_id,
            status=status,
            resolved_by=None if resolved_by is None else _require_text(at + ".resolved_by", resolved_by, allow_empty=True),
        )


@dataclass(frozen=True)
class Step(_Serializable):
    """A thread committed a checkpoint (topic ``events``). ``command_id`` names the command
    whose processing made it: its acknowledgement."""

    type: ClassVar[str] = "step"
    id: str
    thread_id: str
    created_at: datetime
    checkpoint_id: str
    step: int
    #: ``ready``, ``interrupted``, ``completed`` or ``failed``.
    status: StepStatus
    command_id: str | None = None
    #: Who answered, on the steps of a resume that named an actor.
    actor: Actor | None = None
    #: The questions this commit closed (answered here or elsewhere, expired, cancelled): stop
    #: showing them. Empty when none closed (the wire omits the field then).
    resolved_interrupts: tuple[ResolvedInterrupt, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "resolved_interrupts", tuple(self.resolved_interrupts))

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        out.update(checkpoint_id=self.checkpoint_id, step=self.step, status=self.status)
        if self.command_id is not None:
            out["command_id"] = self.command_id
        if self.actor is not None:
            out["actor"] = self.actor.to_dict()
        if self.resolved_interrupts:
            out["resolved_interrupts"] = [item.to_dict() for item in self.resolved_interrupts]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        status = _get(data, "status")
        if status not in ("ready", "interrupted", "completed", "failed"):
            raise InvalidMessage(f"field 'status' is not a thread status: {status!r}", field="status")
        return cls(
            **header,
            checkpoint_id=_require_checkpoint("checkpoint_id", data.get("checkpoint_id")),
            step=_require_int("step", _get(data, "step")),
            status=status,
            command_id=data.get("command_id"),
            actor=None if data.get("actor") is None else Actor.from_dict(data["actor"]),
            resolved_interrupts=_resolved_interrupts(data.get("resolved_interrupts")),
        )


def _resolved_interrupts(value: Any) -> tuple[ResolvedInterrupt, ...]:
    """Reads a step's ``resolved_interrupts`` (absent or null: none)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidMessage("field 'resolved_interrupts' must be a list of {interrupt_id, status, resolved_by}", field="resolved_interrupts")
    return tuple(ResolvedInterrupt.from_dict(item, f"resolved_interrupts[{index}]") for index, item in enumerate(value))


@dataclass(frozen=True)
class Completed(_Serializable):
    """A run finished, with its final state (topic ``events``)."""

    type: ClassVar[str] = "completed"
    id: str
    thread_id: str
    created_at: datetime
    checkpoint_id: str
    #: The final state, fields by channel name.
    values: dict[str, JSON]

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        out.update(checkpoint_id=self.checkpoint_id, values=self.values)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completed:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        values = _optional_object("values", _get(data, "values"))
        assert values is not None
        return cls(
            **header,
            checkpoint_id=_require_checkpoint("checkpoint_id", data.get("checkpoint_id")),
            values=values,
        )


@dataclass(frozen=True)
class Failed(_Serializable):
    """A run ended failed: ``timeout: ...``, ``cancelled[: reason]`` or ``parked after N
    attempts: ...`` (topic ``events``)."""

    type: ClassVar[str] = "failed"
    id: str
    thread_id: str
    created_at: datetime
    reason: str
    checkpoint_id: str | None = None
    command_id: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        if self.checkpoint_id is not None:
            out["checkpoint_id"] = self.checkpoint_id
        out["reason"] = self.reason
        if self.command_id is not None:
            out["command_id"] = self.command_id
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Failed:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        return cls(
            **header,
            reason=_require_text("reason", _get(data, "reason"), allow_empty=True),
            checkpoint_id=_optional_checkpoint("checkpoint_id", data.get("checkpoint_id")),
            command_id=data.get("command_id"),
        )


@dataclass(frozen=True)
class Rejected(_Serializable):
    """A command was refused, with a reason code (topic ``events``)."""

    type: ClassVar[str] = "rejected"
    id: str
    thread_id: str
    created_at: datetime
    #: The refused command's id.
    command_id: str
    #: The reason code; see :data:`interlude_review.REJECTION_REASONS`.
    reason: str
    #: What was wrong, for a human.
    message: str

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, self.thread_id, self.created_at)
        out.update(command_id=self.command_id, reason=self.reason, message=self.message)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rejected:
        """Reads the wire JSON."""
        header = _header(data, cls.type)
        return cls(
            **header,
            command_id=_require_text("command_id", _get(data, "command_id"), allow_empty=True),
            reason=_require_text("reason", _get(data, "reason")),
            message=_require_text("message", _get(data, "message"), allow_empty=True),
        )


@dataclass(frozen=True)
class DeadLetter(_Serializable):
    """A message the workers could not process (topic ``dlq``, key: the original key)."""

    type: ClassVar[str] = "dead_letter"
    #: ``dlq-<topic>-<partition>-<offset>``.
    id: str
    created_at: datetime
    #: The original message bytes, base64.
    original: str
    #: Where it came from.
    topic: str
    partition: int
    offset: int
    #: Why; see :data:`interlude_review.DEAD_LETTER_REASONS`.
    reason: str
    #: What was wrong and where.
    detail: str
    #: The original key, if it had one.
    key: str | None = None

    def original_bytes(self) -> bytes:
        """The original message, decoded from base64."""
        import base64

        return base64.b64decode(self.original)

    def to_dict(self) -> dict[str, JSON]:
        """The wire JSON."""
        out = _envelope(self.type, self.id, None, self.created_at)
        out.update(original=self.original, topic=self.topic, partition=self.partition, offset=self.offset)
        if self.key is not None:
            out["key"] = self.key
        out.update(reason=self.reason, detail=self.detail)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadLetter:
        """Reads the wire JSON."""
        header = _header(data, cls.type, thread=False)
        return cls(
            **header,
            original=_require_text("original", _get(data, "original"), allow_empty=True),
            topic=_require_text("topic", _get(data, "topic"), allow_empty=True),
            partition=_require_int("partition", _get(data, "partition"), minimum=0),
            offset=_require_int("offset", _get(data, "offset"), minimum=0),
            reason=_require_text("reason", _get(data, "reason")),
            detail=_require_text("detail", _get(data, "detail"), allow_empty=True),
            key=data.get("key"),
        )


#: A command an app sends.
Command = Union[Run, Resume, UpdateState, Cancel]
#: An event workers publish on ``reviews`` or ``events``.
Event = Union[Interrupt, Step, Completed, Failed, Rejected]
#: Any message of the contracts.
Message = Union[Command, Event, DeadLetter]

_MODELS: dict[str, Any] = {
    model.type: model for model in (Run, Resume, UpdateState, Cancel, Interrupt, Step, Completed, Failed, Rejected, DeadLetter)
}


def parse_message(data: bytes | str | Mapping[str, Any]) -> Message:
    """Reads any message of the contracts, choosing the model by its ``type``.

    Raises:
        InvalidMessage: the bytes are not a JSON object, the type is unknown, or a field is
            missing or wrong (the error names it).
    """
    if isinstance(data, (bytes, bytearray, str)):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidMessage(f"the message is not JSON: {error}") from None
    if not isinstance(data, Mapping):
        raise InvalidMessage("the message is not a JSON object")
    kind = data.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise InvalidMessage(f"type {kind!r} is not one of {', '.join(sorted(_MODELS))}", field="type")
    return model.from_dict(data)
