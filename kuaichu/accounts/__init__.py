"""Officer accounts: who may log in, with which role, and their login sessions.

``model`` holds the :class:`~kuaichu.accounts.model.Officer` and its
:class:`~kuaichu.accounts.model.Role`, ``service`` the
:class:`~kuaichu.accounts.service.Accounts` service (Argon2 password hashes, session tokens),
``throttle`` the per-account and per-address login back-off, ``passwords`` the one-thread
Argon2 pool with its bounded queue, ``web`` the session cookie and the login/logout routes.
Importing the package loads none of them, so the model stays cheap to import.
"""
