"""Moved to :mod:`kuaichu.accounts` (model, service, web); shim removed in the final sweep."""

from .accounts.model import Officer as Officer
from .accounts.model import Role as Role
from .accounts.service import ROLES as ROLES
from .accounts.service import Accounts as Accounts
from .accounts.web import COOKIE as COOKIE
from .accounts.web import current_officer as current_officer
from .accounts.web import login_post as login_post
from .accounts.web import logout_post as logout_post
from .accounts.web import safe_next as safe_next
from .accounts.web import setup_routes as setup_routes
from .accounts.web import token_from_cookie_header as token_from_cookie_header
