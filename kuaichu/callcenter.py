"""Moved to kuaichu.calls (and kuaichu.signaling.rooms); shim removed in the final sweep."""

from .calls.center import CallCenter as CallCenter
from .calls.media_session import MEDIA_SETUP_TIMEOUT as MEDIA_SETUP_TIMEOUT
from .calls.model import Call as Call
from .calls.model import CallState as CallState
from .cases.ids import new_case_id as new_case_id
from .signaling.rooms import DRIVER_NS as DRIVER_NS
from .signaling.rooms import OFFICER_NS as OFFICER_NS
from .signaling.rooms import SUPERVISOR_NS as SUPERVISOR_NS
from .signaling.rooms import officer_room as officer_room
