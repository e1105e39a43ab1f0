"""The fuzz tests' server fixture (tests/fuzz/served.py)."""

from tests.fuzz.served import served as served
