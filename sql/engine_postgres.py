"""PostgreSQL: questions over rollups kept in a PostgreSQL database (psycopg 3).

- Server-side binding: psycopg 3 sends the values apart from the text ($1, $2 on the
  wire), and sql.dialects casts each placeholder to its value's type, so nothing is
  ever spliced into SQL and no parameter arrives untyped.
- A small pool (1 to POOL_MAX connections), opened on first use; a connection that
  cannot be made is one line (EngineUnavailable), with the password left out.
- Every transaction is read-only (default_transaction_read_only) and every statement
  has the engine's deadline (statement_timeout): a question cannot write, and a query
  still running past TOPRANK_QUERY_TIMEOUT is cancelled by the server (QueryTimeout).
  The role the bot connects as should be able to SELECT the rollups and nothing else
  (README, Scale-out): read-only transactions are a second wall, not the first.
"""

from __future__ import annotations

from typing import Any

from toprank.sql.dialects import POSTGRES
from toprank.sql.engine import QueryTimeout, query_timeout_from_env
from toprank.sql.engines import EngineUnavailable, WarehouseEngine, redact
from toprank.sql.query import Query

POOL_MAX = 4
CONNECT_TIMEOUT_S = 10


def _driver() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ModuleNotFoundError as error:
        raise EngineUnavailable(
            f"PostgreSQL needs psycopg 3 and psycopg-pool ({error.name} is not installed): "
            "pip install 'toprank[postgres]'"
        ) from None
    return psycopg, psycopg_pool


class PostgresEngine(WarehouseEngine):
    dialect = POSTGRES

    def __init__(self, url: str, timeout: float | None = None) -> None:
        super().__init__()
        self.url = url
        self.timeout = query_timeout_from_env() if timeout is None else timeout
        self._pool: Any = None

    def _options(self) -> str:
        ms = max(1, int(self.timeout * 1000))
        return f"-c default_transaction_read_only=on -c statement_timeout={ms}"

    def _connection_pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                psycopg, psycopg_pool = _driver()
                kwargs = {
                    "options": self._options(),
                    "application_name": "toprank",
                    "connect_timeout": CONNECT_TIMEOUT_S,
                }
                # One direct connection first: the pool retries quietly until its
                # timeout, while this says why it failed (bad password, no such db).
                try:
                    psycopg.connect(self.url, **kwargs).close()
                except psycopg.Error as error:
                    reason = str(error).strip().splitlines()[-1] if str(error).strip() else ""
                    raise EngineUnavailable(
                        f"cannot connect to PostgreSQL at {redact(self.url)}: {reason}"
                    ) from None
                pool = psycopg_pool.ConnectionPool(
                    self.url, min_size=1, max_size=POOL_MAX, kwargs=kwargs, open=False
                )
                pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
                self._pool = pool
            return self._pool

    def _execute(self, query: Query) -> list[dict[str, Any]]:
        psycopg, _ = _driver()
        pool = self._connection_pool()
        try:
            with pool.connection() as con, con.cursor() as cursor:
                cursor.execute(query.sql, query.param_dict)
                names = [column.name for column in cursor.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except psycopg.errors.QueryCanceled as error:
            raise QueryTimeout(f"the query ran past {self.timeout:g} s") from error
        except psycopg.OperationalError as error:
            raise EngineUnavailable(f"PostgreSQL at {redact(self.url)}: {error}") from None

    def _missing_table(self, error: Exception) -> bool:
        psycopg, _ = _driver()
        return isinstance(error, psycopg.errors.UndefinedTable)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
