"""Several `duijie serve` and `duijie worker` processes against one database, on this machine:
what the multi-process test and `duijie bench ingest` run (each web process with a data
directory of its own stands in for a host)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, every: float = 0.05, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what or predicate}")
        time.sleep(every)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no cleanup, no commit."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 60.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def spawn(name: str, args: list[str], env: dict[str, str], log: Path) -> Process:
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = log.open("wb")
    popen = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", *args],
        env={**os.environ, **env}, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    fh.close()
    return Process(name, popen, log)


@dataclass
class WebHost:
    process: Process
    base: str
    home: Path

    def index(self) -> dict[str, Any]:
        return dict(httpx.get(self.base + "/healthz/index", timeout=10).json())

    def count(self, collection: str = "technologies") -> int:
        return int(self.index()["collections"][collection]["count"])


def start_web(
    name: str,
    home: Path,
    env: dict[str, str],
    *,
    processes: int = 1,
    timeout: float = 900.0,
) -> WebHost:
    """`duijie serve` for the data directory `home` on a free port; returns once it answers."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    process = spawn(
        name,
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(processes)],
        {**env, "DUIJIE_HOME": str(home)},
        home.parent / f"{name}.log",
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if not process.alive():
            raise RuntimeError(f"{name} exited:\n{process.tail()}")
        try:
            return httpx.get(base + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=timeout, every=0.1, what=f"{name} to answer")
    return WebHost(process, base, home)


def start_worker(
    name: str, home: Path, env: dict[str, str], *, batch_size: int = 32, threads: int | None = None
) -> Process:
    args = ["worker", "--batch-size", str(batch_size)]
    if threads:
        args += ["--threads", str(threads)]
    home.mkdir(parents=True, exist_ok=True)
    return spawn(name, args, {**env, "DUIJIE_HOME": str(home)}, home.parent / f"{name}.log")


@contextlib.contextmanager
def stopping(processes: list[Any]) -> Iterator[list[Any]]:
    """Stop every process (web hosts and workers) when the block ends, however it ends."""
    try:
        yield processes
    finally:
        for item in reversed(processes):
            proc = item.process if isinstance(item, WebHost) else item
            proc.stop()
