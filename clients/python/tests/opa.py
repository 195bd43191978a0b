"""A stock OPA process for differential tests (skipped when there is none).

Set GAIA_IAM_TEST_OPA to an ``opa`` binary (v1.22.3, the version the IAM
pins), or put ``opa`` on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from typing import Any


def opa_binary() -> str | None:
    path = os.environ.get("GAIA_IAM_TEST_OPA") or shutil.which("opa")
    return path if path and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OPA:
    """``opa run --server`` with the given arguments, on a free port."""

    def __init__(self, binary: str, args: list[str], cwd: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                binary,
                "run",
                "--server",
                "--addr",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "error",
                *args,
            ],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    self.stop()
                    raise RuntimeError(f"opa did not start: {err}")
                time.sleep(0.05)

    def query(self, path: str, input_: Any = None) -> dict[str, Any]:
        body = json.dumps({"input": input_} if input_ is not None else {}).encode()
        req = urllib.request.Request(
            f"{self.url}/v1/data/{path}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
