"""Meter simulator: deterministic consumption profiles served by real pymodbus servers.

* :mod:`collectors.simulator.profile` — pure, deterministic counters and gauges per meter, and
  :func:`history_readings` for backfilling a store;
* :mod:`collectors.simulator.server` — :func:`start_simulator` / :func:`run_simulator` serve every
  configured meter with the register layout of its model, with switchable faults;
* :mod:`collectors.simulator.modbus_server` — the threaded pymodbus server with fault injection
  (also used by the test fixtures in ``tests/support/modbus.py``);
* :mod:`collectors.simulator.nullmodem` — two pseudo-terminals joined like a null-modem cable.
"""

from collectors.simulator.profile import counter_value, history_readings, point_values

__all__ = ["counter_value", "history_readings", "point_values"]
