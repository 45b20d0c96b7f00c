"""Shared fixtures: a real influxd, pymodbus servers on loopback, headless Chromium.

The fixtures live in ``tests/support/``; this file only registers them. In CI (``CI=true``) a
missing service is a failure, never a skip.
"""

pytest_plugins = [
    "tests.support.services",
    "tests.support.influx",
    "tests.support.browser",
    "tests.support.modbus",
]
