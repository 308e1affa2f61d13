"""IT accounts (argon2id password hashes), bearer tokens (stored as SHA-256, shown once) and
dashboard sessions (the cookie value is stored only hashed, beside its CSRF token)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from app.errors import MailBeaconError, UsageError
from app.hub import schema as t
from app.hub.clock import utc_now
from app.hub.store import Store

TOKEN_PREFIX = "mbh_"
SESSION_TTL = timedelta(hours=12)
_NAME = re.compile(r"[\w.@+-]{1,200}")


class NotFound(MailBeaconError):
    exit_status = 1


class AlreadyExists(MailBeaconError):
    exit_status = 1


def check_name(name: str, what: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise UsageError(f"a {what} name is 1 to 200 letters, digits or . _ @ + - (got {name!r})")
    return name


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended cost


def hash_token(token: str) -> str:
    # tokens are 256 random bits: a fast hash is enough to make a stolen table useless
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- users


def add_user(store: Store, name: str, password: str) -> None:
    check_name(name, "user")
    if len(password) < 8:
        raise UsageError("a password needs at least 8 characters; nothing was changed")
    digest = _hasher().hash(password)
    with store.begin() as conn:
        if conn.execute(select(t.users.c.id).where(t.users.c.name == name)).first():
            raise AlreadyExists(f"the user {name} already exists")
        conn.execute(insert(t.users).values(name=name, password_hash=digest, created_at=utc_now()))


def remove_user(store: Store, name: str) -> None:
    with store.begin() as conn:
        if not conn.execute(delete(t.users).where(t.users.c.name == name)).rowcount:
            raise NotFound(f"there is no user {name}")


def list_users(store: Store) -> list[dict]:
    with store.read() as conn:
        rows = conn.execute(select(t.users.c.name, t.users.c.created_at).order_by(t.users.c.name))
        return [dict(r._mapping) for r in rows]


@dataclass(frozen=True)
class User:
    id: int
    name: str


def verify_password(store: Store, name: str, password: str) -> User | None:
    """The user when the password matches; None otherwise (same cost for unknown names)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    with store.read() as conn:
        row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
    if row is None:
        try:  # spend the same time as a real check, so a name cannot be probed by timing
            hasher.verify(_DUMMY_HASH or _dummy(), password)
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(row.password_hash):
        with store.begin() as conn:
            conn.execute(update(t.users).where(t.users.c.id == row.id).values(password_hash=hasher.hash(password)))
    return User(row.id, row.name)


_DUMMY_HASH = ""


def _dummy() -> str:
    global _DUMMY_HASH
    _DUMMY_HASH = _hasher().hash(secrets.token_hex(16))
    return _DUMMY_HASH


# ---------------------------------------------------------------- tokens


def create_token(store: Store, name: str, *, admin: bool = False) -> str:
    """A new bearer token; only its hash is kept, so this is the one time it can be seen."""
    check_name(name, "token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.begin() as conn:
        if conn.execute(select(t.tokens.c.id).where(t.tokens.c.name == name)).first():
            raise AlreadyExists(f"a token named {name} already exists (revoke it or pick another name)")
        conn.execute(insert(t.tokens).values(name=name, hash=hash_token(token), admin=admin, created_at=utc_now()))
    return token


def list_tokens(store: Store) -> list[dict]:
    with store.read() as conn:
        rows = conn.execute(
            select(t.tokens.c.name, t.tokens.c.admin, t.tokens.c.created_at, t.tokens.c.revoked_at).order_by(t.tokens.c.name)
        )
        return [dict(r._mapping) for r in rows]


def revoke_token(store: Store, name: str) -> None:
    with store.begin() as conn:
        row = conn.execute(select(t.tokens.c.id, t.tokens.c.revoked_at).where(t.tokens.c.name == name)).first()
        if row is None:
            raise NotFound(f"there is no token named {name}")
        if row.revoked_at is None:
            conn.execute(update(t.tokens).where(t.tokens.c.id == row.id).values(revoked_at=utc_now()))


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    admin: bool


class TokenCache:
    """Bearer token -> TokenInfo, looked up in the database at most every `ttl` seconds per
    token: ingest must not cost a query per request. A revoked token stops working within ttl."""

    def __init__(self, store: Store, ttl: float = 5.0) -> None:
        self.store, self.ttl = store, ttl
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}

    def lookup(self, token: str) -> TokenInfo | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with self.store.read() as conn:
            row = conn.execute(
                select(t.tokens.c.id, t.tokens.c.name, t.tokens.c.admin).where(
                    t.tokens.c.hash == digest, t.tokens.c.revoked_at.is_(None)
                )
            ).first()
        info = TokenInfo(row.id, row.name, bool(row.admin)) if row else None
        if len(self._cache) > 100_000:  # bounded: garbage tokens cannot grow it forever
            self._cache.clear()
        self._cache[digest] = (now, info)
        return info


# ---------------------------------------------------------------- dashboard sessions


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: datetime


def create_session(store: Store, user: User, ttl: timedelta = SESSION_TTL) -> tuple[str, Session]:
    """(cookie value, session). The cookie value is stored only as its hash."""
    value = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = utc_now()
    with store.begin() as conn:
        conn.execute(delete(t.sessions).where(t.sessions.c.expires_at < now))
        conn.execute(
            insert(t.sessions).values(
                id_hash=hash_token(value), user_id=user.id, csrf=csrf, created_at=now, expires_at=now + ttl
            )
        )
    return value, Session(user, csrf, now + ttl)


def session_for(store: Store, value: str | None) -> Session | None:
    """The live session behind a cookie value, or None (missing, unknown, expired, user gone)."""
    if not value or len(value) > 200:
        return None
    with store.read() as conn:
        row = conn.execute(
            select(t.sessions.c.csrf, t.sessions.c.expires_at, t.users.c.id, t.users.c.name)
            .join(t.users, t.users.c.id == t.sessions.c.user_id)
            .where(t.sessions.c.id_hash == hash_token(value))
        ).first()
    if row is None or row.expires_at <= utc_now():
        return None
    return Session(User(row.id, row.name), row.csrf, row.expires_at)


def end_session(store: Store, value: str | None) -> None:
    if value:
        with store.begin() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.id_hash == hash_token(value)))
