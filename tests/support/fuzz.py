"""Hypothesis strategies for requests at the HTTP edge: noise, JSON, mutated real requests."""

from __future__ import annotations

import hmac
import json
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [FORM, "application/json", "text/plain", "multipart/form-data; boundary=x", ""]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def form_template(body: bytes) -> dict[str, Any]:
    """Return a captured request as a template: its form, its payload or its JSON."""
    form = dict(parse_qsl(body.decode()))
    if "payload" in form:
        return {"payload": json.loads(form["payload"])}
    return {"form": form}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out += _paths(inner, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> tuple[bytes, str]:
    """Return a real request with one to three fields deleted or replaced by any JSON."""
    [(kind, value)] = template.items()
    value = json.loads(json.dumps(value))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(value)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON | st.text(max_size=20))
    if kind == "json":
        return json.dumps(value).encode(), "application/json"
    if kind == "payload":
        return urlencode({"payload": json.dumps(value)}).encode(), FORM
    return urlencode({k: str(v) for k, v in value.items()}).encode(), FORM


def bodies(templates: list[dict[str, Any]]) -> st.SearchStrategy[tuple[bytes, str]]:
    """Return (body, content type) pairs, from noise to nearly right."""
    content_type = st.sampled_from(CONTENT_TYPES)
    return st.one_of(
        st.tuples(st.binary(max_size=200), content_type),
        st.tuples(JSON.map(lambda v: json.dumps(v).encode()), content_type),
        st.tuples(
            JSON.map(lambda v: urlencode({"payload": json.dumps(v)}).encode()), st.just(FORM)
        ),
        st.tuples(st.text(max_size=60).map(lambda t: ("payload=" + t).encode()), content_type),
        st.tuples(
            st.sampled_from([b"{broken", b"payload={not json", b"payload=[]", b""]), content_type
        ),
        *(mutated(t) for t in templates),
    )


def signed_headers(
    secret: str, body: bytes, content_type: str, signing: str, ts: int
) -> dict[str, str]:
    """Return headers for `body`: "signed" properly, "badly signed", or "unsigned"."""
    headers = {"Content-Type": content_type} if content_type else {}
    if signing == "signed":
        headers["X-Slack-Request-Timestamp"] = str(ts)
        base = f"v0:{ts}:".encode() + body  # any bytes, UTF-8 or not
        headers["X-Slack-Signature"] = "v0=" + hmac.new(secret.encode(), base, sha256).hexdigest()
    elif signing == "badly signed":
        headers["X-Slack-Request-Timestamp"] = "not-a-number"
        headers["X-Slack-Signature"] = "v0=zz"
    return headers
