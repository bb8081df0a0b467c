"""The Dask side of a library scan: reach a scheduler within a bounded time, send the model
once, and tell the loss of a worker or of the scheduler from a file's own failure.

A file whose task was lost with its worker ("lost dependencies", a worker killed, the
connection closed) is not a result: :class:`DaskPool` says so (:meth:`DaskPool.lost`),
the scan tries it again, on the cluster once a worker is back (the model sent afresh),
else on local processes (:meth:`DaskPool.recover`).
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Optional
from urllib.parse import urlsplit

from genre_desktop.core.errors import GenreDesktopError
from genre_desktop.core.library.model_ref import ModelRef
from genre_desktop.core.library.analyse import analyse_on_worker
from genre_desktop.core.paths import DASK_TIMEOUT_ENV as TIMEOUT_ENV

log = logging.getLogger(__name__)


class SchedulerAddressError(GenreDesktopError, ValueError):
    """A ``--scheduler`` address that is not ``tcp://HOST:PORT``."""


class DaskMissing(GenreDesktopError, RuntimeError):
    """A scheduler was named but the ``distributed`` package is not installed."""


SCHEMES = ("tcp",)  # what a scheduler address may name (tls/ucx would need settings this app has not)
MAX_RECOVERIES = 5  # losses survived on the cluster before the rest runs locally


def default_timeout() -> float:
    """:data:`TIMEOUT_ENV` when it holds a positive number of seconds, else 20."""
    try:
        value = float(os.environ.get(TIMEOUT_ENV, ""))
    except ValueError:
        return 20.0
    return value if 0 < value < 3600 else 20.0


def check_address(address: str) -> str:
    """``address`` as ``tcp://HOST:PORT`` (a bare ``HOST:PORT`` is TCP).

    Raises
    ------
    SchedulerAddressError
        One line: an unsupported scheme, or no host and port (a ``ValueError`` too).
    """
    text = address.strip()
    if "://" not in text:
        text = f"tcp://{text}"
    parts = urlsplit(text)
    if parts.scheme.lower() not in SCHEMES:
        raise SchedulerAddressError(f"unsupported scheduler address {address!r}: only tcp://HOST:PORT is supported")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        raise SchedulerAddressError(f"unsupported scheduler address {address!r}: give it as tcp://HOST:PORT")
    return f"tcp://{parts.netloc}"


async def _identity(address: str, timeout: float, stage: list) -> dict:
    from distributed.comm import connect

    parts = urlsplit(address)
    _, writer = await asyncio.open_connection(parts.hostname, parts.port)  # something listens there
    writer.close()
    stage.append("connected")
    comm = await connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def handshake(address: str, timeout: float) -> dict:
    """Connect to a scheduler and ask who it is, all within ``timeout`` seconds (Dask's own
    timeout does not cover a listener that accepts and never answers).

    Raises
    ------
    OSError
        One line: nothing listens there, it did not answer in time, or it is not a Dask
        scheduler.
    """
    stage: list = []

    async def bounded() -> dict:
        return await asyncio.wait_for(_identity(address, timeout, stage), timeout)

    try:
        info = asyncio.run(bounded())
    except (asyncio.TimeoutError, TimeoutError) as exc:
        if stage:
            raise OSError(f"the scheduler at {address} did not answer within {timeout:g} s") from None
        raise OSError(f"cannot reach the Dask scheduler at {address} (nothing answered within {timeout:g} s)") from exc
    except OSError as exc:
        raise OSError(f"cannot reach the Dask scheduler at {address} ({' '.join(str(exc).split())[:160]})") from None
    except Exception as exc:
        raise OSError(f"the listener at {address} is not a Dask scheduler ({type(exc).__name__})") from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise OSError(f"the listener at {address} is not a Dask scheduler")
    return info


def lost_errors() -> tuple:
    """The exceptions that mean a task was lost with its worker, the connection or the
    scheduler, not that its file failed."""
    from distributed.client import ClosedClientError
    from distributed.comm.core import CommClosedError
    from distributed.utils import CancelledError

    return (ClosedClientError, CommClosedError, CancelledError, asyncio.CancelledError)


class DaskPool:
    """The workers of a Dask cluster; the model travels to them once (scattered)."""

    def __init__(self, ref: ModelRef, address: str, timeout: float, slice_step: int):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a dependency
            raise DaskMissing("Dask is not installed (pip install distributed)") from None
        self.address = check_address(address)
        self.timeout, self.slice_step, self.recoveries, self.generation = timeout, slice_step, 0, 0
        self._workers, self._counted = 1, float("-inf")
        handshake(self.address, timeout)
        try:
            self.client = Client(self.address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise OSError(f"cannot reach the Dask scheduler at {self.address} ({exc})") from None
        self._portable = ref.portable()
        self.ref = None
        try:
            self._send_model()
        except BaseException as exc:
            self.close(cancel=True)
            if isinstance(exc, TimeoutError):
                raise OSError(f"the Dask cluster at {self.address} has no worker (waited {timeout:g} s)") from None
            raise

    @property
    def workers(self) -> int:
        """Threads of the cluster's workers (asked of the scheduler at most every 5 s)."""
        now = time.monotonic()
        if now - self._counted > 5 and self.client.status == "running":
            self._counted = now
            try:
                info = self.client.scheduler_info()["workers"]
                self._workers = max(1, sum(w.get("nthreads", 1) for w in info.values()))
            except Exception as exc:
                log.info("cannot count the Dask workers: %s", type(exc).__name__)
        return self._workers

    def _send_model(self) -> None:
        self.client.wait_for_workers(1, timeout=self.timeout)
        self.ref = self.client.scatter(self._portable, broadcast=True, hash=False)
        self.generation += 1
        self._counted = float("-inf")

    def submit(self, job):
        return self.client.submit(analyse_on_worker, job.path, self.ref, job.expect_fingerprint,
                                  self.slice_step, pure=False)

    def failure(self, exc: BaseException) -> Optional[str]:
        """What ``exc`` (a task's or a submission's) says: "lost" (the work went with a
        worker, the connection or the scheduler: not the file's doing), "crash" (Dask gave
        up on it after the workers running it died, as a file that kills its worker makes
        it do), or None (the file's own failure)."""
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            return "crash"
        return "lost" if isinstance(exc, lost_errors()) else None

    def healthy(self) -> bool:
        return self.client.status == "running"

    def recover(self, make_local):
        """After a loss: this pool again, once a worker is back and has the model (sent
        afresh), or ``make_local()`` when the scheduler is gone, no worker came back within
        the timeout, or the cluster lost work :data:`MAX_RECOVERIES` times."""
        self.recoveries += 1
        reason = None
        if self.recoveries > MAX_RECOVERIES:
            reason = f"it lost work {MAX_RECOVERIES} times"
        else:
            deadline = time.monotonic() + self.timeout
            while self.client.status == "connecting" and time.monotonic() < deadline:
                time.sleep(0.1)  # Dask reconnects by itself when the scheduler comes back
            if self.client.status != "running":
                reason = "the scheduler is gone"
            else:
                try:
                    self._send_model()
                    log.warning("work lost on the Dask cluster at %s is tried again there", self.address)
                    return self
                except Exception as exc:
                    reason = (f"no worker came back within {self.timeout:g} s" if isinstance(exc, TimeoutError)
                              else f"it failed ({type(exc).__name__})")
        log.warning("the Dask cluster at %s cannot go on (%s): the rest of the scan runs on local processes",
                    self.address, reason)
        self.close(cancel=True)
        return make_local()

    def restart(self) -> None:
        pass  # the scheduler reschedules work of a lost worker itself

    def close(self, cancel: bool) -> None:
        try:
            self.client.close(timeout=max(1.0, min(self.timeout, 5.0)))
        except Exception as exc:
            log.info("closing the Dask client: %s", type(exc).__name__)

