"""The provider simulator: a real HTTP server speaking four providers' APIs, with faults on demand.

Tests, the demo, benchmarks and chaos drills point a gateway at it instead of a
real provider. One server on one port speaks OpenAI (`/v1/chat/completions`,
`/v1/embeddings`, `/v1/models`), Anthropic (`/v1/messages`), Gemini
(`/v1beta/models/{model}:generateContent` and `:streamGenerateContent`) and
Azure OpenAI (`/openai/deployments/{deployment}/...`). Answers are
deterministic and the same in every family (`"<name> heard: <last user
text>"`, a continuation of a trailing assistant turn, one tool call when tools
are declared, `"<name> got: <result>"` after a tool result), so a test can fail
over between families and still predict the text. An admin API (`/_faults`,
`/_stats`, `/_health`) injects, on every family's paths alike, the failures a
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
