"""Seeded order simulator: realistic order events and a customer change feed, with defects injected on
purpose, dropped atomically into the landing volume with a ground-truth manifest per batch.

The contract with the pipeline is docs/data-contract.md; usage and figures are in docs/simulator.md.
"""

from simulator.config import DEFECT_KINDS, DEFECT_RULES, PROFILES, RULES, SimulatorConfig
from simulator.engine import BatchResult, Simulator
from simulator.writer import WrittenFile

__all__ = [
    "DEFECT_KINDS",
    "DEFECT_RULES",
    "PROFILES",
    "RULES",
    "BatchResult",
    "Simulator",
    "SimulatorConfig",
    "WrittenFile",
]
