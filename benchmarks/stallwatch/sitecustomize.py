"""Loaded by every Python process whose PYTHONPATH holds this folder; does something only
where ``KUAICHU_STALL_LOG`` or ``KUAICHU_THREAD_NAMES`` is set (``benchmarks/call_load.py
--stall-log`` / ``--threads`` set them for the server it starts): see ``stallwatch.py`` and
``threadnames.py`` beside it."""

import os

if os.environ.get("KUAICHU_THREAD_NAMES"):
    import threadnames

    threadnames.install(os.environ["KUAICHU_THREAD_NAMES"])

if os.environ.get("KUAICHU_STALL_LOG"):
    import stallwatch

    stallwatch.install(os.environ["KUAICHU_STALL_LOG"])
