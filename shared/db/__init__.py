"""Database access: SQLAlchemy 2 async Core. SQLite by default, PostgreSQL (asyncpg) by URL."""
