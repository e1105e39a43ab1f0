"""Loaded by every Python process whose PYTHONPATH holds this folder; does something only
where ``KUAICHU_STALL_LOG`` is set (``benchmarks/call_load.py --stall-log`` sets both for the
server it starts): see ``stallwatch.py`` beside it."""

import os

if os.environ.get("KUAICHU_STALL_LOG"):
    import stallwatch

    stallwatch.install(os.environ["KUAICHU_STALL_LOG"])
