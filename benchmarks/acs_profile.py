"""The ``profile`` section: where the whole-ACS-endpoint time goes (pyinstrument, else cProfile).

``n`` fresh browser POSTs to ``/saml/acs`` (one spent on warm-up), each through
``Gate.handle_endpoint`` under the profiler; prints the call tree (or the top 25
functions by own time under cProfile).
"""

from __future__ import annotations

from common import Gate, acs_post

from saml_middleware import Settings
from saml_middleware.devidp import DevIdP


def section(idp: DevIdP, settings: Settings, n: int) -> None:
    print("\nWhere the whole-ACS-endpoint time goes:")
    gate = Gate(settings)
    requests = [acs_post(gate, idp).request for _ in range(n)]
    gate.handle_endpoint(requests.pop())
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for request in requests:
            gate.handle_endpoint(request)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for request in requests:
        gate.handle_endpoint(request)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
