"""Officer accounts: who may log in, with which role, and their login sessions.

``model`` holds the :class:`~kuaichu.accounts.model.Officer` and its
:class:`~kuaichu.accounts.model.Role`, ``service`` the
:class:`~kuaichu.accounts.service.Accounts` service (Argon2 password hashes, session tokens),
``web`` the session cookie and the login/logout routes. Importing the package loads none of
them, so the model stays cheap to import.
"""
