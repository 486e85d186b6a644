"""A local marketplace simulator: realistic, changing results for the adapters, on 127.0.0.1.

``Simulator(seed)`` is the market (listings appear, get cheaper and vanish, step by step, the same for
the same seed); ``SimulatorServer`` serves it for tests and benchmarks; ``spyglass demo-market`` runs it.
"""

from __future__ import annotations

from spyglass.market.simulator.catalogue import SimItem
from spyglass.market.simulator.server import Simulator, SimulatorApp, SimulatorServer, endpoints, serve_forever

__all__ = ["SimItem", "Simulator", "SimulatorApp", "SimulatorServer", "endpoints", "serve_forever"]
