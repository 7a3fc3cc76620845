"""The signer produces the canonical bytes the workers verify (docs/message-contracts.md):
a fixed vector, also checked by the Swift tests (SignedResumeTests), pins them."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from interlude_review import Actor, InvalidMessage, Resume, ResumeSigner, canonical_bytes, public_key_base64

#: A fixed key (32 bytes of 0x01) and resume; the Swift test checks the same bytes and signature.
SEED = bytes([1] * 32)
RESUME = Resume(
    thread_id="order-1042",
    values={"i-1": {"approved": True, "note": "ok \u00e9 \"q\" /\n", "n": 3}},
    actor=Actor("alice", roles=("finance",)),
    id="cmd-1",
)
EXPECTED = (
    'interlude-resume-v1\n{"actor":{"id":"alice","roles":["finance"]},"expires_at":1800000300,'
    '"issued_at":1800000000,"key_id":"k1","thread_id":"order-1042",'
    '"values":{"i-1":{"approved":true,"n":3,"note":"ok \u00e9 \\"q\\" /\\n"}}}'
).encode("utf-8")


def test_the_canonical_bytes_are_sorted_compact_json_after_the_prefix() -> None:
    assert canonical_bytes(RESUME, key_id="k1", issued_at=1_800_000_000, expires_at=1_800_000_300) == EXPECTED


def test_a_signed_resume_verifies_with_the_public_key() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    signed = ResumeSigner(key, "k1", clock=lambda: 1_800_000_000).sign(RESUME)
    assert signed.signature is not None
    assert signed.to_dict()["signature"] == {"key_id": "k1", "issued_at": 1_800_000_000, "expires_at": 1_800_000_300, "sig": signed.signature.sig}
    key.public_key().verify(base64.b64decode(signed.signature.sig), EXPECTED)
    assert len(base64.b64decode(public_key_base64(key))) == 32


def test_a_plain_value_and_no_actor_are_signed_too() -> None:
    resume = Resume(thread_id="t", value=[1, 2.0, None])
    text = canonical_bytes(resume, key_id="k", issued_at=1, expires_at=2).decode()
    assert text == 'interlude-resume-v1\n{"actor":null,"expires_at":2,"issued_at":1,"key_id":"k","thread_id":"t","value":[1,2,null]}'


def test_a_fractional_number_cannot_be_signed() -> None:
    with pytest.raises(InvalidMessage, match="send it as a string"):
        canonical_bytes(Resume(thread_id="t", value={"score": 0.5}), key_id="k", issued_at=1, expires_at=2)


def test_a_signed_resume_with_an_actor_validates_against_the_schema_and_round_trips() -> None:
    import json
    from pathlib import Path

    import jsonschema

    from interlude_review import parse_message

    schemas = next(folder / "schemas" / "kafka" for folder in Path(__file__).resolve().parents if (folder / "schemas" / "kafka" / "resume.json").is_file())
    signed = ResumeSigner(Ed25519PrivateKey.from_private_bytes(SEED), "k1", clock=lambda: 1_800_000_000).sign(RESUME)
    message = signed.to_dict()
    jsonschema.Draft202012Validator(json.loads((schemas / "resume.json").read_text())).validate(message)
    assert parse_message(json.dumps(message).encode()) == signed
    with pytest.raises(InvalidMessage, match="actor"):
        Actor("")
