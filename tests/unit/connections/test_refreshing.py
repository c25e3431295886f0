"""The refreshing lookup costs a request nothing: the registry is asked at most once per
interval, by one caller, and nobody waits for that caller."""

from __future__ import annotations

import threading

from saml_middleware.connections import Connection, MemoryRegistry, RefreshingLookup

from ...support.harness import Clock


class CountingRegistry(MemoryRegistry):
    """A memory registry counting version checks; ``hold`` makes a check wait until released."""

    def __init__(self) -> None:
        super().__init__([Connection("acme", domains=("acme.com",))])
        self.checks = 0
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def version(self) -> str:
        self.checks += 1
        if self.hold is not None:
            self.entered.set()
            self.hold.wait(timeout=30)
        return super().version()


def test_the_registry_is_asked_once_per_interval_however_many_requests() -> None:
    registry, clock = CountingRegistry(), Clock()
    lookup = RefreshingLookup(registry, 5, clock=clock)
    assert registry.checks == 1  # the first index
    for _ in range(1000):
        assert lookup.by_domain("acme.com").id == "acme"
    assert registry.checks == 1
    clock.advance(5)
    for _ in range(1000):
        lookup.by_email("a@acme.com")
    assert registry.checks == 2


def test_requests_never_wait_for_a_slow_check() -> None:
    registry, clock = CountingRegistry(), Clock()
    lookup = RefreshingLookup(registry, 5, clock=clock)
    registry.hold = threading.Event()
    clock.advance(5)
    checker = threading.Thread(target=lookup.by_domain, args=("acme.com",))
    checker.start()
    assert registry.entered.wait(timeout=30)  # one request is inside a (slow) check...
    assert lookup.by_domain("acme.com").id == "acme"  # ...another is answered meanwhile
    assert registry.checks == 2 and checker.is_alive()
    registry.hold.set()
    checker.join(timeout=30)
    assert not checker.is_alive()


def test_a_write_in_this_process_can_be_made_live_at_once() -> None:
    registry, clock = MemoryRegistry(), Clock()
    lookup = RefreshingLookup(registry, 5, clock=clock)
    registry.put(Connection("acme", domains=("acme.com",)))
    assert lookup.refresh() is True and lookup.by_domain("acme.com").id == "acme"
    assert lookup.refresh() is False
