"""``SAML_STORE_URL``: every form parsed by the one factory, passwords never shown, bad options refused."""

from __future__ import annotations

from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, Settings
from saml_middleware.errors import ConfigError
from saml_middleware.masking import redact
from saml_middleware.stores import MemoryReplayCache, MemorySessionStore, open_store, parse_store_url
from saml_middleware.stores.clients import connect
from saml_middleware.stores.ready import diagnose

from ...support.harness import Clock, Seen, asgi_app
from ...support.redisserver import free_port

ENTITY = "https://app.example.com/saml/metadata"


@pytest.mark.parametrize("password", ["p/ss", "p#ss", "p?ss", "p@ss", "a/b#c?d@e:f"])
def test_passwords_with_url_delimiters_work_raw_or_encoded_and_are_never_shown(password: str) -> None:
    encoded = "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in password)
    for typed in (password, encoded):
        for url in (
            f"redis://:{typed}@cache:6380/2",
            f"redis+sentinel://app:{typed}@s1:26379,s2/mymaster/1",
            f"redis+cluster://:{typed}@n1:7000,n2:7001",
            f"unix://:{typed}@/run/redis.sock?db=3",
        ):
            parsed = parse_store_url(url)
            assert parsed.password == password
            assert password not in parsed.shown and "***" in parsed.shown
            assert typed not in redact(url)  # Settings repr, check, the setup page
            assert "***@" in redact(url)


def test_every_form_is_understood() -> None:
    one = parse_store_url("rediss://user:pw@cache.example.com/4?ssl_ca_certs=/ca.pem&socket_timeout=1")
    assert (one.scheme, one.hosts, one.db, one.username, one.tls) == (
        "rediss",
        (("cache.example.com", 6379),),
        4,
        "user",
        True,
    )
    sentinel = parse_store_url("redis+sentinel://s1,[::1]:26380/mymaster?sentinel_password=x")
    assert sentinel.hosts == (("s1", 26379), ("::1", 26380)) and sentinel.service == "mymaster"
    assert sentinel.db == 0 and sentinel.password is None
    cluster = parse_store_url("redis+cluster://n1:7000,n2:7001")
    assert cluster.hosts == (("n1", 7000), ("n2", 7001))
    unix = parse_store_url("unix:///run/redis/redis.sock?db=2")
    assert (unix.path, unix.db) == ("/run/redis/redis.sock", 2)
    assert parse_store_url("python:mystores:make").factory == "mystores:make"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://:pw-never-shown@cache/0?retry_on_timeout=yes", "unknown option retry_on_timeout"),
        ("redis://:pw-never-shown@cache/0?ssl_ca_certs=/ca.pem", "unknown option ssl_ca_certs"),  # not rediss
        ("redis+cluster://:pw-never-shown@n1:7000?wait_replicas=1", "unknown option wait_replicas"),
        ("redis+sentinel://:pw-never-shown@s1:26379", "name the master"),
        ("redis://:pw-never-shown@a,b/0", "one host only"),
        ("redis://:pw-never-shown@cache:port/0", "not a number from 1 to 65535"),
        ("redis+cluster://:pw-never-shown@n1/3", "database 0 only"),
        ("memcached://:pw-never-shown@cache", "must be memory://"),
        ("rediss://:pw-never-shown@cache?ssl_cert_reqs=maybe", "ssl_cert_reqs must be"),
        ("redis://:pw-never-shown@cache?socket_timeout=soon", "is not a number"),
    ],
)
def test_mistakes_are_refused_at_start_up_without_the_password(
    url: str, says: str, settings_factory: Any
) -> None:
    with pytest.raises(ConfigError) as info:
        SAMLMiddleware(asgi_app(Seen()), settings=settings_factory(store_url=url))
    message = str(info.value)
    assert says in message and "SAML_STORE_URL" in message
    assert "pw-never-shown" not in message


def test_settings_accept_every_scheme_and_refuse_others(settings_factory: Any) -> None:
    for url in ("redis+sentinel://s1/m", "rediss+cluster://n1", "unix:///r.sock", "python:m:f"):
        assert settings_factory(store_url=url).store_url == url
    with pytest.raises(ConfigError, match="redis\\[s\\]\\+sentinel"):
        Settings(base_url="https://app.example.com", secret_key=("k" * 32,), store_url="mongodb://db")


def test_tls_and_auth_options_reach_the_client() -> None:
    client = connect(
        "rediss://app:pw@cache.example.com:6380/2?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem"
        "&ssl_keyfile=/k.pem&socket_timeout=5"
    )
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"], kwargs["socket_timeout"]) == (
        "app",
        "pw",
        2,
        5,
    )
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == (
        "/ca.pem",
        "/c.pem",
        "/k.pem",
    )
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    client.close()
    sentinel = connect("rediss+sentinel://s1:26379/mymaster/1?sentinel_password=spw&ssl_ca_certs=/ca.pem")
    pool = sentinel.connection_pool
    assert (
        pool.service_name == "mymaster" and pool.connection_class.__name__ == "SentinelManagedSSLConnection"
    )
    assert pool.sentinel_manager.sentinel_kwargs["password"] == "spw"
    sentinel.close()


class _Replay:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def add(self, key: str, expires_at: float) -> bool:
        new = key not in self.seen
        self.seen.add(key)
        return new


def make_stores(*, namespace: str, session_max_age: int, clock: Any) -> tuple[Any, Any]:
    """A ``python:`` factory (used by the test below through its import path)."""
    return _Replay(), MemorySessionStore(clock=clock)


def test_python_factory_gives_the_stores(clock: Clock) -> None:
    stores = open_store(f"python:{__name__}:make_stores", namespace=ENTITY, session_max_age=60, clock=clock)
    assert isinstance(stores.replay, _Replay) and isinstance(stores.sessions, MemorySessionStore)
    assert stores.replay.add("k", clock() + 60) and not stores.replay.add("k", clock() + 60)
    assert stores.ready().ok
    with pytest.raises(ConfigError, match="cannot load the factory"):
        open_store("python:no_such_module_here:make", namespace=ENTITY, session_max_age=60)


def test_memory_is_always_ready(clock: Clock) -> None:
    stores = open_store("memory://", namespace=ENTITY, session_max_age=60, clock=clock)
    assert isinstance(stores.replay, MemoryReplayCache) and stores.ready().as_json() == {"status": "ready"}


def test_unreachable_store_is_named_and_answered_within_the_deadline(clock: Clock) -> None:
    stores = open_store(f"redis://:hunter2@127.0.0.1:{free_port()}/0", namespace=ENTITY, session_max_age=60)
    result = stores.ready()
    assert not result.ok and result.reason == "unreachable" and "hunter2" not in result.detail
    assert result.as_json() == {"status": "unavailable", "reason": "unreachable"}  # no address in public JSON


def test_diagnosis_names_the_problem() -> None:
    import redis

    assert diagnose(redis.AuthenticationError("invalid username-password pair")) == "auth"
    assert diagnose(redis.ResponseError("WRONGPASS invalid username-password pair")) == "auth"
    assert diagnose(redis.ResponseError("NOPERM this user has no permissions")) == "auth"
    assert diagnose(redis.ConnectionError("[SSL: WRONG_VERSION_NUMBER] wrong version number")) == "tls"
    assert diagnose(redis.ReadOnlyError("You can't write against a read only replica.")) == "read_only"
    assert diagnose(redis.ConnectionError("Connection refused")) == "unreachable"
    assert diagnose(redis.TimeoutError("Timeout reading from socket")) == "timeout"


def test_a_store_client_failing_on_its_options_is_a_503_not_a_malformed_response(
    settings_factory: Any, idp: Any, clock: Clock, clients: list[Any]
) -> None:
    """The old path: an option redis-py accepted at start-up and refused at the first connection
    turned every login into 400 ``malformed_response``. Now such a store error is a 503."""
    import redis

    from saml_middleware.stores.redis import RedisReplayCache

    from ...support.asgiclient import asgi_client
    from ...support.harness import APP, IDP, Browser

    broken = redis.Redis(connection_pool=redis.ConnectionPool(no_such_option=1))  # TypeError at connect
    replay = RedisReplayCache(broken, ENTITY, clock=clock)
    app = SAMLMiddleware(asgi_app(Seen()), settings=settings_factory(), replay=replay, clock=clock)
    pair = asgi_client(app, APP), asgi_client(idp.app, IDP)
    clients.extend(pair)
    done = Browser(*pair, idp).login()
    assert done.status_code == 503 and "saml_session" not in done.headers.get("set-cookie", "")
