"""Tool-call reviews: the review request an interrupt carries (schemas/kafka/review_request.json),
the answers (schemas/kafka/review_response.json), and the mapping to LangGraph's Agent Inbox
``HumanInterrupt`` / ``HumanResponse`` types.

>>> request = {"type": "tool_review", "action_requests": [{"id": "c1", "name": "weather", "args": {"city": "Oslo"}}],
...            "review_configs": [{"action_name": "weather", "allowed_decisions": ["approve", "reject"]}]}
>>> human_interrupts(request)[0]["config"]
{'allow_accept': True, 'allow_edit': False, 'allow_respond': False, 'allow_ignore': True}
>>> decisions(approve())
{'decisions': [{'type': 'approve'}]}
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidMessage

JSON = Any

#: The marker in a review request's ``type`` member.
REVIEW_REQUEST_TYPE = "tool_review"


def is_review_request(value: JSON) -> bool:
    """True when an interrupt's value is a tool-call review request."""
    return (
        isinstance(value, dict)
        and value.get("type") == REVIEW_REQUEST_TYPE
        and isinstance(value.get("action_requests"), list)
        and isinstance(value.get("review_configs"), list)
    )


def allowed_decisions(request: dict, tool: str) -> list[str]:
    """The decisions the request allows for a tool name, in the order to offer them."""
    for config in request.get("review_configs", []):
        if config.get("action_name") == tool:
            return list(config.get("allowed_decisions", []))
    return []


def human_interrupts(request: dict) -> list[dict]:
    """The Agent Inbox ``HumanInterrupt`` objects for a review request, one per call, in order."""
    if not is_review_request(request):
        raise InvalidMessage("not a tool-call review request: its type must be 'tool_review'", field="value")
    rendered = []
    for action in request["action_requests"]:
        allowed = allowed_decisions(request, action["name"])
        item = {
            "action_request": {"action": action["name"], "args": action["args"]},
            "config": {
                "allow_accept": "approve" in allowed,
                "allow_edit": "edit" in allowed,
                "allow_respond": "respond" in allowed,
                "allow_ignore": "reject" in allowed,
            },
        }
        if "description" in action:
            item["description"] = action["description"]
        rendered.append(item)
    return rendered


def approve() -> dict:
    """Run the call as proposed."""
    return {"type": "approve"}


def edit(args: dict) -> dict:
    """Run the call with these arguments (they must satisfy the tool's args_schema)."""
    if not isinstance(args, dict):
        raise InvalidMessage("edited arguments must be a JSON object", field="args")
    return {"type": "edit", "args": args}


def reject(message: str | None = None) -> dict:
    """Do not run the call; the model reads ``message`` as the tool's answer."""
    return {"type": "reject"} if message is None else {"type": "reject", "message": message}


def respond(message: str) -> dict:
    """Do not run the call; ``message`` is the tool's result (the human acts as the tool)."""
    return {"type": "respond", "message": message}


def decisions(*items: dict) -> dict:
    """The resume value for a review: one decision per call, in the request's order."""
    return {"decisions": list(items)}


def from_human_responses(responses: list[dict]) -> dict:
    """Agent Inbox ``HumanResponse`` answers as a review response. The worker accepts the
    responses as they are too; this shows the mapping: accept -> approve, edit -> edit,
    response -> respond, ignore -> reject."""
    mapped = []
    for i, response in enumerate(responses):
        kind = response.get("type") if isinstance(response, dict) else None
        args = response.get("args") if isinstance(response, dict) else None
        if kind == "accept":
            mapped.append(approve())
        elif kind == "edit" and isinstance(args, dict) and isinstance(args.get("args"), dict):
            mapped.append(edit(args["args"]))
        elif kind == "response" and isinstance(args, str):
            mapped.append(respond(args))
        elif kind == "ignore":
            mapped.append(reject("ignored by the reviewer"))
        else:
            raise InvalidMessage(
                f"HumanResponse {i + 1} is not accept, edit with args {{action, args}}, response with a text, or ignore: {response!r}",
                field=f"responses[{i}]",
            )
    return {"decisions": mapped}
