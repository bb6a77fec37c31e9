"""How many wrong passwords a login may cost, counted so that nobody can lock an owner out (R-ACC-1).

Three counters of wrong passwords live in Redis, shared by every web process, each a fixed window:

- account and source address (LOGIN_LIMIT_PER_ACCOUNT_AND_IP, 5 per 15 minutes): the guesser is
  refused, while the same ID from any other address is not;
- source address (LOGIN_LIMIT_PER_IP, 100 per 15 minutes): one address trying many IDs (spraying);
- account (LOGIN_LIMIT_PER_ACCOUNT, 50 per 15 minutes): one ID guessed from many addresses. Past it
  only an address with no wrong password for that ID in the window is heard: a botnet gets one guess
  per address, and the owner typing the right password from their usual address still gets in.

An attempt takes its place in each counter before the password is checked (an atomic Redis INCR), so
parallel requests never check more passwords than the limit allows; an attempt that is not a wrong
password gives its places back, so successful logins cost nothing.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string

from portal.services.accounts import LoginFailed
from portal.services.errors import DomainError


class TooManyAttempts(DomainError):
    status = 429

    def __init__(self) -> None:
        super().__init__(
            "ログインの失敗が続いたため、この接続元からは一時的にログインできません。"
            "しばらく時間をおいてから、もう一度お試しください。"
        )


@dataclass
class _Places:
    """The counter places one attempt holds: (key, window in seconds)."""

    storage: Storage
    taken: list[tuple[str, int]] = field(default_factory=list)

    def take(self, item: RateLimitItem, *identifiers: str) -> int:
        """One more attempt in `item`'s window for these identifiers; the count including it."""
        key, expiry = item.key_for(*identifiers), item.get_expiry()
        count = self.storage.incr(key, expiry)
        self.taken.append((key, expiry))
        return count

    def give_back(self) -> None:
        for key, expiry in self.taken:
            self.storage.incr(key, expiry, amount=-1)
        self.taken.clear()


@contextmanager
def counted(login_id: str, source: str) -> Iterator[None]:
    """Run one password check as an attempt of `login_id` from address `source`.

    Raises TooManyAttempts (nothing checked, nothing counted) when a limit is reached. The attempt
    stays counted only when the block raises LoginFailed (wrong ID or password)."""
    account = login_id.strip().casefold()[:64] or "-"
    per_pair, per_ip, per_account = (
        _limit(name) for name in ("LOGIN_LIMIT_PER_ACCOUNT_AND_IP", "LOGIN_LIMIT_PER_IP", "LOGIN_LIMIT_PER_ACCOUNT")
    )
    places = _Places(_storage())
    try:
        from_here = places.take(per_pair, "login-pair", account, source)
        if from_here > per_pair.amount or places.take(per_ip, "login-ip", source) > per_ip.amount:
            raise TooManyAttempts()
        if places.take(per_account, "login-account", account) > per_account.amount and from_here > 1:
            raise TooManyAttempts()  # the ID is under attack and this address has guessed wrong already
        yield
    except LoginFailed:
        raise
    except BaseException:
        places.give_back()
        raise
    else:
        places.give_back()


def _limit(name: str) -> RateLimitItem:
    return parse(current_app.config[name])


def _storage() -> Storage:
    """The rate-limit storage (Redis) of this app, one client per app."""
    extensions = current_app.extensions
    if "ukeoi_login_limits" not in extensions:
        extensions["ukeoi_login_limits"] = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
    return extensions["ukeoi_login_limits"]
