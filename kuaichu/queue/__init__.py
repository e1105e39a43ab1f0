"""Call queue, officer presence, reservations and dispatch."""

from .dispatcher import Dispatcher, DispatchListener
from .model import OfficerStatus, QueuedCall
from .ports import CallQueue, EventSink

__all__ = [
    "CallQueue",
    "DispatchListener",
    "Dispatcher",
    "EventSink",
    "OfficerStatus",
    "QueuedCall",
]
