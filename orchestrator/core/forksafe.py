"""Keep forked django-q2 workers off their parent's Postgres connections.

django-q2 closes connections before it forks a worker, but with Django's psycopg pool a
"closed" connection goes back to the pool with its socket open, and the pool is inherited:
a recycled worker and the sentinel (which runs the scheduler) then share sockets, and replies
cross ("the last operation didn't produce records", IntegrityError on a SELECT). After a fork
the child forgets every inherited pool and connection. It keeps references to them, never
closes them: closing would send Terminate down a socket the parent still uses.
"""

import os

_INHERITED: list = []  # held for the life of the process so they are never finalised


def forget_inherited_connections() -> None:
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    _INHERITED.append(dict(DatabaseWrapper._connection_pools))
    DatabaseWrapper._connection_pools.clear()
    for connection in connections.all(initialized_only=True):
        if connection.vendor == "postgresql" and connection.connection is not None:
            _INHERITED.append(connection.connection)
            connection.connection = None


def install() -> None:
    os.register_at_fork(after_in_child=forget_inherited_connections)
