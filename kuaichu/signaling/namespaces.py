"""Moved to kuaichu.signaling.{base,driver,officer,supervisor}; shim removed in the final sweep."""

from .base import AuthenticatedNamespace as AuthenticatedNamespace
from .base import BaseNamespace as BaseNamespace
from .base import Handler as Handler
from .driver import DriverNamespace as DriverNamespace
from .officer import OfficerNamespace as OfficerNamespace
from .supervisor import SupervisorNamespace as SupervisorNamespace
