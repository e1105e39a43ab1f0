"""Database engine and tables (SQLAlchemy 2 async; SQLite by default)."""
