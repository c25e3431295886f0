"""A replay write whose answer was lost (real redis-server behind a proxy that drops the reply):
the retry tells "my write landed" from "someone else's", so a login is neither refused as its
own replay nor a replay let in."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from saml_middleware.stores import open_store
from saml_middleware.stores.redis import key_prefix

from ..support.faultproxy import FaultProxy
from ..support.redisserver import RedisServer

pytestmark = pytest.mark.needs("redis-server")
ENTITY = "https://app.example.com/saml/metadata"


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[FaultProxy]:
    redis_server.flush()
    faulty = FaultProxy(redis_server.port)
    yield faulty
    faulty.close()


def test_a_lost_answer_to_my_write_is_still_mine(proxy: FaultProxy, redis_server: RedisServer) -> None:
    replay = open_store(f"redis://127.0.0.1:{proxy.port}/0", namespace=ENTITY, session_max_age=60).replay
    proxy.drop_next_reply()
    assert replay.add("assertion-1", 2e9) is True  # landed, answer lost, retried: not a replay
    assert proxy.dropped == 1
    assert replay.add("assertion-1", 2e9) is False  # the real replay is still refused
    other = open_store(redis_server.url, namespace=ENTITY, session_max_age=60).replay
    assert other.add("assertion-1", 2e9) is False  # on every instance


def test_a_lost_answer_never_lets_a_replay_in(proxy: FaultProxy, redis_server: RedisServer) -> None:
    first = open_store(redis_server.url, namespace=ENTITY, session_max_age=60).replay
    assert first.add("assertion-2", 2e9) is True  # accepted by another instance
    replay = open_store(f"redis://127.0.0.1:{proxy.port}/0", namespace=ENTITY, session_max_age=60).replay
    proxy.drop_next_reply()
    assert replay.add("assertion-2", 2e9) is False  # the retry finds someone else's token
    assert proxy.dropped == 1


def test_the_key_holds_a_token_and_its_expiry(redis_server: RedisServer) -> None:
    redis_server.flush()
    stores = open_store(redis_server.url, namespace=ENTITY, session_max_age=60)
    assert stores.replay.add("assertion-3", time.time() + 30)
    client = stores.replay.client
    value = client.get(key_prefix(ENTITY) + "replay:assertion-3")
    assert len(value) == 32 and value != b"1"  # a random token, not a bare flag
    assert 0 < client.pttl(key_prefix(ENTITY) + "replay:assertion-3") <= 30_000
