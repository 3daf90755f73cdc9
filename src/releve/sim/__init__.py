"""The provider simulator: a real OpenAI-compatible HTTP server with faults on demand.

Tests, the demo, benchmarks and chaos drills point a gateway at it instead of a
real provider. Answers are deterministic (`"<name> heard: <last user text>"`),
and an admin API (`/_faults`, `/_stats`, `/_health`) injects the failures a
continuity plan must survive: error statuses, 429 with `Retry-After`, latency,
hangs, cut streams, malformed JSON, and Toxiproxy's network faults.

Importing this package opens nothing; `build_simulator_app`, `run_simulator`
and `SimulatorThread` do the work when called.
"""

from ._app import build_simulator_app
from ._faults import Fault, FaultKind, parse_fault
from ._run import run_simulator
from ._thread import SimulatorThread

__all__ = [
    "Fault",
    "FaultKind",
    "SimulatorThread",
    "build_simulator_app",
    "parse_fault",
    "run_simulator",
]

# Show the public path in reprs and tracebacks, as httpx does.
for _obj in (Fault, FaultKind, SimulatorThread, build_simulator_app, parse_fault, run_simulator):
    _obj.__module__ = __name__
del _obj
