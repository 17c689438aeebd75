"""`pos worker` as its own process: it leaves busy cores to the app servers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pos.testing import start_pos

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _wait_until_started(worker: subprocess.Popen[bytes], log: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while "worker started" not in log.read_text():
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


async def test_the_worker_lowers_its_cpu_priority_to_the_configured_nice_value(
    db: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    env = {**os.environ, "POS_DATABASE_URL": db, "POS_WORKER_NICE": "7", "POS_LOG_LEVEL": "INFO"}
    worker = start_pos(["worker"], env, log)
    try:
        _wait_until_started(worker, log)
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == 7
    finally:
        worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=15) == 0, log.read_text()
    assert "CPU priority lowered" in log.read_text()
