"""No secret in what a run writes: a database URL is recorded without its password, which this process
alone keeps; a later ``--resume`` finds it where the database's own tools look (libpq's ``PGPASSWORD``
and ``~/.pgpass``) or in ``--study-storage`` given again. A storage URI never carries credentials:
each node's environment does (``AWS_ACCESS_KEY_ID``, an instance profile)."""

from __future__ import annotations

import re

_USER_AND_PASSWORD = re.compile(r"^(?P<scheme>[A-Za-z0-9+.-]+://)(?P<user>[^:/@]*)(?::(?P<password>[^@/]*))?@")

_KNOWN: dict[str, str] = {}
"""Recorded (password-free) URL -> the URL as given, in this process only."""


def without_password(url: str) -> str:
    """``postgresql://me:secret@host/db`` -> ``postgresql://me@host/db``."""
    return _USER_AND_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}@", url, count=1)


def hide_password(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``, for messages."""
    return _USER_AND_PASSWORD.sub(
        lambda m: f"{m['scheme']}{m['user']}{':***' if m['password'] is not None else ''}@", url, count=1
    )


def has_credentials(uri: str) -> bool:
    """Whether ``uri`` names a user or a password (``s3://key:secret@bucket/...``)."""
    return _USER_AND_PASSWORD.match(uri) is not None


def remember(url: str) -> str:
    """The form of ``url`` to record; ``url`` itself is kept for ``with_password`` in this process."""
    recorded = without_password(url)
    if recorded != url:
        _KNOWN[recorded] = url
    return recorded


def with_password(recorded: str) -> str:
    """The URL to connect with: as given in this process, else as recorded (libpq then looks further)."""
    return _KNOWN.get(recorded, recorded)
