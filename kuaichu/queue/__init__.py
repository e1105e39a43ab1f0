"""Call queue, officer presence, reservations and dispatch."""

from .dispatcher import Dispatcher, DispatchListener
from .model import OfficerStatus, QueuedCall

__all__ = ["DispatchListener", "Dispatcher", "OfficerStatus", "QueuedCall"]
