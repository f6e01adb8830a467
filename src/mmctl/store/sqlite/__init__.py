"""The SQLite adapter of the `Store` port: one database file in the state directory.

Modules: `schema` (numbered migrations), `opening` (checks, lock, pragmas), `writer` (one writer
thread, bounded queue, group commit), `ops` (the SQL of each write), `reads` (queries for the reader
thread), `maintenance` (backup, integrity check), `store` (`SqliteStore`, the facade), `definitions`
(the synchronous `DefinitionStore` port on top of it).
"""

from mmctl.store.sqlite.definitions import SqliteDefinitionStore
from mmctl.store.sqlite.maintenance import check_database
from mmctl.store.sqlite.reads import Reads
from mmctl.store.sqlite.schema import LATEST_VERSION
from mmctl.store.sqlite.store import DB_NAME, SqliteStore

__all__ = ["DB_NAME", "LATEST_VERSION", "Reads", "SqliteDefinitionStore", "SqliteStore", "check_database"]
