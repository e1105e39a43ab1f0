"""Test and benchmark tools, not part of the installed package: simulated driver and officer
clients (:mod:`sim.client`) and synthetic licence-plate scenes (:mod:`sim.plates`).

Import them from a checkout: pytest puts the repository root on ``sys.path`` (``pythonpath``
in pyproject.toml) and the benchmarks add it themselves.
"""
