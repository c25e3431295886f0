"""One suite for every store implementation: memory and Redis, replay cache and session store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from saml_middleware.errors import StoreUnavailable
from saml_middleware.stores import (
    MemoryReplayCache,
    MemorySessionStore,
    ReplayCache,
    SessionStore,
    open_stores,
)
from saml_middleware.stores.redis import RedisReplayCache, connect, key_prefix, safe_url
from saml_middleware.stores.redissessions import RedisSessionStore

from ...support.harness import Clock
from ...support.redisserver import RedisServer, free_port

ENTITY = "https://app.example.com/saml/metadata"


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    redis_server.flush()
    client = connect(redis_server.url)
    yield client
    client.close()


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def replay(kind: str, clock: Clock, request: pytest.FixtureRequest) -> ReplayCache:
    if kind == "memory":
        return MemoryReplayCache(clock=clock)
    return RedisReplayCache(request.getfixturevalue("redis_client"), ENTITY, clock=clock)


@pytest.fixture
def sessions(kind: str, clock: Clock, request: pytest.FixtureRequest) -> SessionStore:
    if kind == "memory":
        return MemorySessionStore(clock=clock)
    return RedisSessionStore(request.getfixturevalue("redis_client"), ENTITY, index_ttl=3600, clock=clock)


def expire(kind: str, clock: Clock, seconds: float) -> None:
    """Let ``seconds`` pass: the frozen clock for memory, real time for Redis (which expires by itself)."""
    clock.advance(seconds)
    if kind == "redis":
        import time

        time.sleep(seconds)


# -- replay cache ------------------------------------------------------------------------
def test_replay_first_add_wins(replay: ReplayCache, clock: Clock) -> None:
    assert replay.add("a", clock() + 60) is True
    assert replay.add("a", clock() + 60) is False
    assert replay.add("b", clock() + 60) is True


def test_replay_key_expires(replay: ReplayCache, kind: str, clock: Clock) -> None:
    assert replay.add("short", clock() + 0.2)
    expire(kind, clock, 0.4)
    assert replay.add("short", clock() + 60) is True


def test_replay_add_is_atomic_under_contention(replay: ReplayCache, clock: Clock) -> None:
    barrier = threading.Barrier(16)

    def attempt(_: int) -> bool:
        barrier.wait()
        return replay.add("contended", clock() + 60)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count(True) == 1


def test_replay_expiry_in_the_past_still_records_briefly(replay: ReplayCache, clock: Clock) -> None:
    assert replay.add("late", clock() - 5) is True  # never an error


# -- session store --------------------------------------------------------------------------
def test_session_put_get_delete(sessions: SessionStore, clock: Clock) -> None:
    assert sessions.get("s1") is None
    assert sessions.put("s1", "a@example.com", b'{"x": 1}', clock() + 60) is True
    assert sessions.get("s1") == b'{"x": 1}'
    sessions.delete("s1", "a@example.com")
    assert sessions.get("s1") is None
    sessions.delete("s1", "a@example.com")  # deleting twice is fine


def test_session_expires(sessions: SessionStore, kind: str, clock: Clock) -> None:
    sessions.put("s1", "a@example.com", b"r", clock() + 0.2)
    expire(kind, clock, 0.4)
    assert sessions.get("s1") is None


def test_session_update_only_if_still_there(sessions: SessionStore, clock: Clock) -> None:
    assert sessions.put("gone", "a@example.com", b"r", clock() + 60, existing=True) is False
    assert sessions.get("gone") is None
    sessions.put("s1", "a@example.com", b"r1", clock() + 60)
    assert sessions.put("s1", "a@example.com", b"r2", clock() + 60, existing=True) is True
    assert sessions.get("s1") == b"r2"


def test_revoke_ends_every_session_of_one_user_only(sessions: SessionStore, clock: Clock) -> None:
    for sid in ("a1", "a2", "a3"):
        sessions.put(sid, "Alice@Example.com", b"r", clock() + 60)
    sessions.put("b1", "bob@example.com", b"r", clock() + 60)
    sessions.delete("a3", "alice@example.com")
    assert sessions.revoke("alice@example.COM") == 2
    assert [sessions.get(s) for s in ("a1", "a2", "a3")] == [None, None, None]
    assert sessions.get("b1") == b"r"
    assert sessions.revoke("alice@example.com") == 0


def test_records_are_stored_verbatim(sessions: SessionStore, clock: Clock) -> None:
    record = bytes(range(256)) * 80  # compressed records are binary
    sessions.put("big", "zoe@example.com", record, clock() + 60)
    assert sessions.get("big") == record  # no 4 KB cookie limit


def test_sessions_of_one_user_are_listed_for_single_logout(sessions: SessionStore, clock: Clock) -> None:
    sessions.put("a1", "Alice@Example.com", b"r1", clock() + 60)
    sessions.put("a2", "alice@example.com", b"r2", clock() + 60)
    sessions.put("b1", "bob@example.com", b"rb", clock() + 60)
    sessions.delete("a2", "alice@example.com")
    assert sessions.sessions("ALICE@example.com") == {"a1": b"r1"}
    assert sessions.sessions("nobody@example.com") == {}


def index_size(store: SessionStore, email: str) -> int:
    """How many session ids the store indexes under ``email``, live or expired."""
    if isinstance(store, MemorySessionStore):
        return store.index_size(email)
    assert isinstance(store, RedisSessionStore)
    return int(store.client.zcard(store._index_key(email)))


def test_index_of_a_frequent_user_keeps_only_live_sessions(sessions: SessionStore, clock: Clock) -> None:
    """A user signing in every day for 60 days: the index (what revoke reads) holds the live
    sessions only, not 60 ids, and revoke counts the live ones."""
    for day in range(60):
        sessions.put(f"day{day}", "Frequent@example.com", b"r", clock() + 600)
        clock.advance(86400)  # past the session and the index lifetime (3600 s here)
    sessions.put("today-laptop", "frequent@example.com", b"r", clock() + 600)
    sessions.put("today-phone", "frequent@example.com", b"r", clock() + 600)
    assert index_size(sessions, "frequent@example.com") == 2
    assert sorted(sessions.sessions("frequent@example.com")) == ["today-laptop", "today-phone"]
    assert sessions.revoke("frequent@example.com") == 2
    assert index_size(sessions, "frequent@example.com") == 0


def test_index_keeps_a_session_until_its_latest_possible_end(sessions: SessionStore, clock: Clock) -> None:
    """An activity update moves a session's idle deadline: a newer login must not drop an older
    session that is still live from the index (revoke would miss it)."""
    sessions.put("old", "a@example.com", b"r", clock() + 60)
    clock.advance(50)
    assert sessions.put("old", "a@example.com", b"r2", clock() + 60, existing=True)  # activity
    clock.advance(50)  # 100 s after login: past the first deadline, before the second
    sessions.put("new", "a@example.com", b"r", clock() + 60)
    assert index_size(sessions, "a@example.com") == 2
    assert sessions.revoke("a@example.com") == 2


def test_revoke_all_ends_every_session_of_the_namespace_only(
    sessions: SessionStore, replay: ReplayCache, clock: Clock
) -> None:
    for i in range(25):
        sessions.put(f"s{i}", f"user{i % 5}@example.com", b"r", clock() + 60)
    sessions.delete("s0", "user0@example.com")
    assert replay.add("assertion-1", clock() + 60)
    if isinstance(sessions, RedisSessionStore):
        sessions.BATCH = 7  # several SCAN pages and DEL batches
    assert sessions.revoke_all() == 24
    assert [sessions.get(f"s{i}") for i in range(25)] == [None] * 25
    assert all(index_size(sessions, f"user{i}@example.com") == 0 for i in range(5))
    assert replay.add("assertion-1", clock() + 60) is False  # replay protection untouched
    assert sessions.revoke_all() == 0


# -- Redis specifics ------------------------------------------------------------------------
def test_keys_are_namespaced_by_sp_entity_id(redis_client: redis.Redis, clock: Clock) -> None:
    app_a = RedisReplayCache(redis_client, "https://a.example.com/saml/metadata", clock=clock)
    app_b = RedisReplayCache(redis_client, "https://b.example.com/saml/metadata", clock=clock)
    assert app_a.add("same-id", clock() + 60) and app_b.add("same-id", clock() + 60)
    keys = sorted(k.decode() for k in redis_client.keys("*"))
    assert len(keys) == 2 and all(
        k.startswith("saml-middleware:{") and k.endswith(":replay:same-id") for k in keys
    )
    assert key_prefix("https://a.example.com/saml/metadata") in {k.split("replay:")[0] for k in keys}
    ttl = redis_client.pttl(keys[0])
    assert 55_000 < ttl <= 60_000  # a duration from the injected clock, not the wall clock


def test_session_keys_and_index_expire(redis_client: redis.Redis, clock: Clock) -> None:
    store = RedisSessionStore(redis_client, ENTITY, index_ttl=3600, clock=clock)
    store.put("sid", "a@example.com", b"r", clock() + 120)
    prefix = key_prefix(ENTITY)
    assert 0 < redis_client.ttl(prefix + "session:sid") <= 120
    index = [k for k in redis_client.keys(prefix + "user-sessions:*")]
    assert len(index) == 1 and 3500 < redis_client.ttl(index[0]) <= 3600
    assert b"a@example.com" not in index[0]  # no e-mail addresses in key names


def test_unreachable_redis_fails_closed_without_echoing_the_password(clock: Clock) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    replay, store = open_stores(url, namespace=ENTITY, session_max_age=60, clock=clock)
    calls: list[Any] = [
        lambda: replay.add("k", clock() + 60),
        lambda: store.get("s"),
        lambda: store.put("s", "a@example.com", b"r", clock() + 60),
        lambda: store.delete("s", "a@example.com"),
        lambda: store.revoke("a@example.com"),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert "hunter2" not in str(info.value) and "127.0.0.1" in str(info.value)
    replay.client.close()  # type: ignore[attr-defined]


def test_password_is_never_shown() -> None:
    assert (
        safe_url("rediss://user:s3cret@cache.example.com:6380/2")
        == "rediss://user:***@cache.example.com:6380/2"
    )


def test_password_from_the_url_and_tls_scheme_are_used() -> None:
    client = connect("rediss://:s3cret@cache.example.com:6380/2?socket_timeout=5")
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["password"] == "s3cret" and kwargs["db"] == 2 and kwargs["socket_timeout"] == 5
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    client.close()


def test_memory_url_gives_memory_stores(clock: Clock) -> None:
    replay, store = open_stores("memory://", namespace=ENTITY, session_max_age=60, clock=clock)
    assert isinstance(replay, MemoryReplayCache) and isinstance(store, MemorySessionStore)


def test_revoke_all_never_reaches_another_namespace(redis_client: redis.Redis, clock: Clock) -> None:
    """Connections (and apps sharing a Redis) each have their namespace: revoking one's
    sessions leaves the others'."""
    acme = RedisSessionStore(
        redis_client, "https://app.example.com/saml/c/acme/metadata", index_ttl=60, clock=clock
    )
    globex = RedisSessionStore(
        redis_client, "https://app.example.com/saml/c/globex/metadata", index_ttl=60, clock=clock
    )
    acme.put("a1", "ann@acme.com", b"r", clock() + 60)
    globex.put("g1", "gus@globex.com", b"r", clock() + 60)
    assert acme.revoke_all() == 1
    assert acme.get("a1") is None and globex.get("g1") == b"r"
    assert globex.sessions("gus@globex.com") == {"g1": b"r"}


def test_sessions_indexed_by_an_earlier_version_are_still_found(
    redis_client: redis.Redis, clock: Clock
) -> None:
    """Earlier versions indexed sessions in a plain set under ``user:``: after an upgrade,
    single logout and revoke still reach those sessions."""
    store = RedisSessionStore(redis_client, ENTITY, index_ttl=3600, clock=clock)
    legacy = store._user_key("a@example.com")
    redis_client.set(store._session_key("old"), b'{"u": {}}', ex=60)
    redis_client.sadd(legacy, "old")
    store.put("new", "a@example.com", b"r", clock() + 60)
    assert store.sessions("A@example.com") == {"new": b"r", "old": b'{"u": {}}'}
    store.delete("old", "a@example.com")
    assert redis_client.smembers(legacy) == set()
    redis_client.set(store._session_key("old2"), b"{}", ex=60)
    redis_client.sadd(legacy, "old2")
    assert store.revoke("a@example.com") == 2
