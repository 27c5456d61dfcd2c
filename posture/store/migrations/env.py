"""Alembic's environment for the clinic store: migrate the connection the store hands over.

:func:`posture.store.upgrade.migrate` puts its connection (already inside the store's write
transaction) in ``config.attributes["connection"]``; the revisions then run in that
transaction, so a failed step leaves the database as it was.
"""

from alembic import context

from posture.store.schema import METADATA

conn = context.config.attributes.get("connection")
if conn is None:
    raise RuntimeError("run the clinic store's migrations through "
                       "posture.store.upgrade.migrate (they need the store's connection)")
context.configure(connection=conn, target_metadata=METADATA)
with context.begin_transaction():
    context.run_migrations()
