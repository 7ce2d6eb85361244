"""What a request pays to take a pooled PostgreSQL connection and run one statement, with the
pool as Molodets configures it (a ping only after a second idle: `db.IDLE_PING_SECONDS`)
against the baseline of SQLAlchemy's `pool_pre_ping` (a `SELECT 1` round trip at every
checkout). A For You page takes one or two connections.

Prints wall and client CPU time per checkout and statement, and the ratio to the baseline.
Run: `.venv/bin/python benchmarks/db_checkout.py [--database-url postgresql+psycopg://...]
[--checkouts 5000]` (PostgreSQL must be running; the default is this machine's).
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from molodets.db import POOL_OVERFLOW, POOL_SIZE, Database


def per_checkout(factory: sessionmaker, checkouts: int) -> tuple[float, float]:
    """Microseconds of wall and of this process's CPU per checkout and statement."""

    def run(times: int) -> None:
        for _ in range(times):
            with factory() as session:
                session.execute(text("SELECT 1")).scalar_one()

    run(200)  # warm: connections open, statements prepared
    wall, cpu = time.perf_counter(), time.process_time()
    run(checkouts)
    return (time.perf_counter() - wall) / checkouts * 1e6, (time.process_time() - cpu) / checkouts * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--checkouts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ours = Database(args.database_url)
    pinging = create_engine(
        args.database_url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE["postgresql"],
        max_overflow=POOL_OVERFLOW["postgresql"],
    )
    baseline = sessionmaker(bind=pinging.execution_options(isolation_level="AUTOCOMMIT"))
    print(f"{'pool':<28}{'wall us':>10}{'client CPU us':>16}{'wall vs baseline':>19}")
    try:
        for _ in range(args.rounds):
            base_wall, base_cpu = per_checkout(baseline, args.checkouts)
            wall, cpu = per_checkout(ours.statement_reads, args.checkouts)
            print(f"{'pre-ping (baseline)':<28}{base_wall:>10.0f}{base_cpu:>16.0f}{1:>18.2f}x")
            print(f"{'ping after 1 s idle (ours)':<28}{wall:>10.0f}{cpu:>16.0f}{wall / base_wall:>18.2f}x")
    finally:
        ours.dispose()
        pinging.dispose()


if __name__ == "__main__":
    main()
