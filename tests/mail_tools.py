"""Helpers for tests that read what the file mail backend wrote (no mocks: the real files)."""
from __future__ import annotations

import email
import re
import socket
from email import policy
from email.message import EmailMessage
from pathlib import Path


def mail_files(app) -> list[EmailMessage]:
    """Every message the file backend wrote to MAIL_FILE_PATH, parsed, oldest file first."""
    messages = []
    for path in sorted(Path(app.config["MAIL_FILE_PATH"]).glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=policy.default))
    return messages


def body_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def delivered_body(app, kind: str) -> str:
    """The body of the newest delivered mail of `kind` (the highest notice id), as the recipient got it."""
    messages = [m for m in mail_files(app) if m["X-Ukeoi-Kind"] == kind]
    assert messages, f"no {kind} mail was delivered"
    return body_of(max(messages, key=lambda m: int(m["X-Ukeoi-Notice"])))


def link_token(body: str, path: str = "/password/reset/") -> str:
    """The secret token of the link at `path` in a delivered body (never "••••": that is the stored copy)."""
    match = re.search(re.escape(path) + r"([A-Za-z0-9_\-]+)", body)
    assert match, f"mail has no {path} link"
    return match.group(1)


def closed_port() -> int:
    """A local TCP port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
