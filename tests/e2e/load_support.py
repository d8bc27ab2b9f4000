"""The old home of tests/support/load.py, kept for the benchmark scripts that still import it."""

from tests.support.load import ACK_WINDOW, START, SimulatedTime, check_all_staffed_once, run_load

__all__ = ["ACK_WINDOW", "START", "SimulatedTime", "check_all_staffed_once", "run_load"]
