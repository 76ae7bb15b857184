"""The PySpark engine: ``local[N]`` on one machine, or any cluster by configuration.

``SparkEngine(master="spark://host:7077")`` (or ``SPARK_MASTER`` / ``spark.master`` from
``spark-defaults.conf``) sends the same Ibis expressions to a cluster; ``SparkEngine(
session=existing)`` reuses a session you built (e.g. Databricks). Parquet paths must be
readable by the executors (HDFS, S3, or a shared file system).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import ibis

from .base import DataSource
from .ibis_engine import IbisEngine

if TYPE_CHECKING:
    import ibis.expr.types as ir


def local_session(master: str = "local[2]", *, shuffle_partitions: int = 4,
                  config: dict[str, str] | None = None) -> Any:
    """A Spark session for one machine: UI off, UTC, few shuffle partitions."""
    logging.getLogger("py4j").setLevel(logging.WARNING)  # quiet at interpreter exit
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName("opencommissioning-analytics")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
    )
    for k, v in (config or {}).items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine(IbisEngine):
    name = "spark"

    def __init__(self, session: Any = None, *, master: str | None = None,
                 config: dict[str, str] | None = None) -> None:
        if session is None:
            session = local_session(master or os.environ.get("SPARK_MASTER", "local[2]"), config=config)
        self.session = session
        self._con = ibis.pyspark.connect(session)
        self._n = 0

    @property
    def backend(self) -> Any:
        return self._con

    def open_table(self, table: str, data: DataSource) -> ir.Table:
        self._n += 1
        if table in data.tables:
            return ibis.memtable(data.tables[table])
        name = f"oc_{table}_{self._n}"
        loc = data.location(table)
        paths = [str(loc)] if loc is not None else data.parquet_files(table)
        frame = self.session.read.option("recursiveFileLookup", "true").parquet(*paths)
        frame.createOrReplaceTempView(name)
        return self._con.table(name)
