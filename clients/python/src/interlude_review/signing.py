"""Signed answers: an Ed25519 signature over a resume, which workers configured with
``INTERLUDE_REQUIRE_SIGNED_RESUMES`` require.

The signature covers the canonical bytes of the resume (``docs/message-contracts.md``, "Signed
answers"): the prefix ``interlude-resume-v1`` and a line feed, then the canonical JSON of an
object with ``thread_id``, ``value`` or ``values``, ``actor`` (``{"id", "roles"}`` or ``null``),
``key_id``, ``issued_at`` and ``expires_at``: keys sorted, no whitespace, non-ASCII characters
literal, numbers whole. A signature applies once: the same signed answer sent under another
command id is refused ``signature_replayed``.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> signer = ResumeSigner(Ed25519PrivateKey.generate(), key_id="review-1")
>>> signed = signer.sign(Resume(thread_id="t1", values={"i1": True}, actor=Actor("alice")))
>>> signed.signature.key_id
'review-1'
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import InvalidMessage
from .models import Resume, Signature

__all__ = ["ResumeSigner", "canonical_bytes", "public_key_base64", "PREFIX"]

#: The domain-separation prefix of the signed bytes.
PREFIX = b"interlude-resume-v1\n"


def _check_numbers(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value) or abs(value) > 2**53:
            raise InvalidMessage(f"{path} holds the number {value!r}, which a signature cannot cover (only whole numbers up to 2^53); send it as a string", field=path)
        return
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise InvalidMessage(f"{path} holds {value}, beyond 2^53; send it as a string", field=path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_numbers(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_numbers(item, f"{path}.{key}")


def _whole(value: Any) -> Any:
    """Whole floats as ints (``2.0`` -> ``2``), as the workers write them."""
    if isinstance(value, float):
        return int(value)
    if isinstance(value, list):
        return [_whole(item) for item in value]
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    return value


def canonical_bytes(resume: Resume, *, key_id: str, issued_at: int, expires_at: int) -> bytes:
    """The bytes a signature over ``resume`` covers.

    Raises:
        InvalidMessage: an answer holds a non-integer number (send it as a string).
    """
    document: dict[str, Any] = {
        "thread_id": resume.thread_id,
        "actor": None if resume.actor is None else resume.actor.to_dict(),
        "key_id": key_id,
        "issued_at": int(issued_at),
        "expires_at": int(expires_at),
    }
    if resume.values is not None:
        document["values"] = resume.values
    else:
        document["value"] = resume.value
    _check_numbers(document, "resume")
    text = json.dumps(_whole(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return PREFIX + text.encode("utf-8")


def public_key_base64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64: what goes in the workers' key set
    (``INTERLUDE_RESUME_KEYS`` / ``INTERLUDE_RESUME_KEYS_FILE``)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


class ResumeSigner:
    """Signs resumes with one Ed25519 key, known to the workers under ``key_id``.

    Args:
        private_key: The signing key.
        key_id: Its id in the workers' key set.
        ttl_seconds: How long a signature stays valid. Default: 300.
        clock: Seconds since 1970; for tests. Default: ``time.time``.
    """

    def __init__(self, private_key: Ed25519PrivateKey, key_id: str, *, ttl_seconds: int = 300, clock: Any = time.time) -> None:
        if not key_id:
            raise ValueError("key_id must be a non-empty string")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.private_key = private_key
        self.key_id = key_id
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def sign(self, resume: Resume, *, issued_at: int | None = None, expires_at: int | None = None) -> Resume:
        """A copy of ``resume`` carrying a signature over its thread, answers and actor."""
        issued = int(self.clock()) if issued_at is None else int(issued_at)
        expires = issued + self.ttl_seconds if expires_at is None else int(expires_at)
        message = canonical_bytes(resume, key_id=self.key_id, issued_at=issued, expires_at=expires)
        sig = base64.b64encode(self.private_key.sign(message)).decode("ascii")
        return dataclasses.replace(resume, signature=Signature(key_id=self.key_id, issued_at=issued, expires_at=expires, sig=sig))
