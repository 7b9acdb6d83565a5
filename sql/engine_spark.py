"""Spark through Spark Connect (`sc://host:port`): a Spark Connect server, or Databricks,
which speaks the same protocol (`sc://<workspace>:443/;token=...;x-databricks-cluster-id=...`).

- Parameters are Spark's named parameter markers (`:name`) bound by `spark.sql(text,
  args=...)`: the server binds them as typed literals, never text in the SQL.
- Each query is tagged; a timer interrupts the tag at the engine's deadline
  (TOPRANK_QUERY_TIMEOUT), so a stuck query ends as QueryTimeout and the session lives on.
- Spark has no read-only session: validation (sql.validate, in the Spark dialect) is the
  wall, and the principal the bot uses should hold SELECT on the rollups only (README).
"""

from __future__ import annotations

import threading
import uuid
import warnings
from typing import Any

from toprank.sql.dialects import SPARK
from toprank.sql.engine import QueryTimeout, query_timeout_from_env
from toprank.sql.engines import EngineUnavailable, WarehouseEngine, redact
from toprank.sql.query import Query


def _session_builder() -> Any:
    try:
        with warnings.catch_warnings():
            # pyspark 4.x warns on import that pandas 3 is not "fully supported"; the
            # engine moves rows as Python values, not pandas, so the user is spared it.
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\..*")
            from pyspark.sql import SparkSession
            from pyspark.sql.connect.session import SparkSession as _ConnectSession  # noqa: F401
    except ModuleNotFoundError as error:
        raise EngineUnavailable(
            f"Spark Connect needs pyspark with its connect extra ({error.name} is not "
            "installed): pip install 'toprank[spark]'"
        ) from None
    return SparkSession.builder


class SparkEngine(WarehouseEngine):
    dialect = SPARK

    def __init__(self, url: str, timeout: float | None = None) -> None:
        super().__init__()
        self.url = url
        self.timeout = query_timeout_from_env() if timeout is None else timeout
        self._session: Any = None

    def session(self) -> Any:
        """The Spark Connect session, created on first use (one per engine)."""
        with self._lock:
            if self._session is None:
                builder = _session_builder()
                try:
                    session = builder.remote(self.url).create()
                    session.sql("SELECT 1").collect()  # the channel is lazy: reach the server now
                except Exception as error:  # grpc and pyspark raise many kinds
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    raise EngineUnavailable(
                        f"cannot reach Spark Connect at {redact(self.url)}: {reason[:300]}"
                    ) from None
                self._session = session
            return self._session

    def _execute(self, query: Query) -> list[dict[str, Any]]:
        session = self.session()
        tag = f"toprank-{uuid.uuid4().hex}"
        fired = threading.Event()

        def interrupt() -> None:
            fired.set()
            session.interruptTag(tag)

        timer = threading.Timer(self.timeout, interrupt)
        timer.daemon = True
        session.addTag(tag)
        timer.start()
        try:
            rows = session.sql(query.sql, args=query.param_dict).collect()
        except Exception as error:
            if fired.is_set():
                raise QueryTimeout(f"the query ran past {self.timeout:g} s") from error
            raise
        finally:
            timer.cancel()
            session.removeTag(tag)
        return [row.asDict() for row in rows]

    def _missing_table(self, error: Exception) -> bool:
        return "TABLE_OR_VIEW_NOT_FOUND" in str(error)

    def execute_statement(self, sql: str, args: dict[str, Any] | None = None) -> list[Any]:
        """Run one statement as it is (the rollup build's DDL; never a question)."""
        return list(self.session().sql(sql, args=args or None).collect())

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.stop()
                self._session = None
