"""Database layer: typed SQLAlchemy models, the engine and session factory, and queries.

Nothing here imports from ``bot`` or ``handlers``.
"""
