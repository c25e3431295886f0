"""Two real app server processes (uvicorn/ASGI and waitress/WSGI) sharing one real redis-server.

Nothing is sticky: any step of a login may land on either instance.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from saml_middleware.devidp import DevIdP

from ..support.appserver import HTML, AppServer, finish_login, idp_answer, start_login
from ..support.redisserver import RedisServer, free_port

pytestmark = pytest.mark.needs("redis-server")

EMAIL = "b.simon@contoso.com"


@dataclass
class Cluster:
    a: AppServer
    b: AppServer
    idp: DevIdP
    redis: RedisServer


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, idp_keys: tuple[str, str]) -> Iterator[Cluster]:
    redis = RedisServer()
    redis.start()
    tmp = tmp_path_factory.mktemp("scaleout")
    idp = DevIdP("http://idp.test", key_pem=idp_keys[0], cert_pem=idp_keys[1])
    (tmp / "idp.xml").write_bytes(idp.metadata_xml())
    env = {
        "SAML_BASE_URL": "http://app.test",  # the load balancer's URL, the same for every instance
        "SAML_SECRET_KEY": "scale-out-secret-key-0123456789",
        "SAML_IDP_METADATA_FILE": str(tmp / "idp.xml"),
        "SAML_STORE_URL": redis.url,
        "SAML_SESSION_STORE": "server",
        "SAML_ALLOW_IDP_INITIATED": "true",
    }
    a = AppServer("uvicorn", free_port(), env, tmp / "a.log")
    b = AppServer("waitress", free_port(), env, tmp / "b.log")
    try:
        a.start()
        b.start()
        yield Cluster(a, b, idp, redis)
    finally:
        a.stop()
        b.stop()
        redis.stop()


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """One browser: its cookies (host 127.0.0.1) go to both instances, as behind one load balancer."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.mark.parametrize("direction", ["a->b", "b->a"])
def test_login_started_on_one_instance_completes_on_the_other(cluster: Cluster, browser, direction) -> None:
    first, second = (cluster.a, cluster.b) if direction == "a->b" else (cluster.b, cluster.a)
    saml_request, relay = start_login(browser, first.url, "/reports?q=1")
    done = finish_login(browser, second.url, idp_answer(cluster.idp, saml_request, relay, EMAIL))
    assert done.status_code == 303 and done.headers["location"] == "/reports?q=1"
    seen = [browser.get(s.url + "/", headers=HTML).json() for s in (cluster.a, cluster.b)]
    assert [s["user"] for s in seen] == [EMAIL, EMAIL]
    assert seen[0]["pid"] != seen[1]["pid"]


def test_response_accepted_by_a_is_refused_as_a_replay_by_b(cluster: Cluster, browser) -> None:
    saml_request, relay = start_login(browser, cluster.a.url)
    form = idp_answer(cluster.idp, saml_request, relay, EMAIL)
    stolen_cookies = dict(browser.cookies)  # the login cookie, before the ACS consumes it
    assert finish_login(browser, cluster.a.url, form).status_code == 303
    with httpx.Client(cookies=stolen_cookies) as attacker:
        replayed = finish_login(attacker, cluster.b.url, form)
    assert replayed.status_code == 400 and "saml_session" not in replayed.headers.get("set-cookie", "")
    assert "reason=replayed" in cluster.b.log()

    unsolicited = cluster.idp.issue_response(
        EMAIL, acs_url="http://app.test/saml/acs", audience="http://app.test/saml/metadata"
    )
    form = {"SAMLResponse": base64.b64encode(unsolicited).decode()}
    with httpx.Client() as first, httpx.Client() as second:
        assert finish_login(first, cluster.b.url, form).status_code == 303
        assert finish_login(second, cluster.a.url, form).status_code == 400


def test_logout_on_b_ends_the_session_on_a(cluster: Cluster, browser) -> None:
    saml_request, relay = start_login(browser, cluster.a.url)
    assert (
        finish_login(browser, cluster.a.url, idp_answer(cluster.idp, saml_request, relay, EMAIL)).status_code
        == 303
    )
    session_cookie = browser.cookies["saml_session"]
    assert browser.get(cluster.a.url + "/", headers=HTML).json()["user"] == EMAIL
    assert browser.post(cluster.b.url + "/saml/logout").status_code == 303
    with httpx.Client(cookies={"saml_session": session_cookie}) as copy:  # a copy of the old cookie
        assert copy.get(cluster.a.url + "/", headers=HTML).status_code == 302
        assert copy.get(cluster.b.url + "/", headers={"accept": "application/json"}).status_code == 401


def test_hundreds_of_concurrent_logins_across_both_instances_each_succeed_once(cluster: Cluster) -> None:
    servers = [cluster.a, cluster.b]
    emails = [u.email for u in cluster.idp.users]
    # one TLS context for every client: 24 threads each loading the CA store at once (httpx makes
    # a context per client, even for http://) crashed OpenSSL with SIGABRT once in five runs
    tls = ssl.create_default_context()

    def login(i: int) -> tuple[int, int, str | None, int]:
        with httpx.Client(timeout=30, verify=tls) as client:
            start, finish, check = servers[i % 2], servers[(i // 2) % 2], servers[(i // 4) % 2]
            saml_request, relay = start_login(client, start.url, f"/item/{i}")
            form = idp_answer(cluster.idp, saml_request, relay, emails[i % len(emails)])
            cookies = dict(client.cookies)
            done = finish_login(client, finish.url, form)
            me = client.get(check.url + "/", headers=HTML)
            user = me.json()["user"] if me.status_code == 200 else None
        with httpx.Client(
            timeout=30, cookies=cookies, verify=tls
        ) as replayer:  # the same response again, elsewhere
            again = finish_login(replayer, servers[(i + 1) % 2].url, form)
        return done.status_code, me.status_code, user, again.status_code

    n = 240
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(login, range(n)))
    assert [r[0] for r in results] == [303] * n
    assert [r[1] for r in results] == [200] * n
    assert [r[2] for r in results] == [emails[i % len(emails)] for i in range(n)]
    assert [r[3] for r in results] == [400] * n  # every response accepted exactly once
