"""The work of a request, off the event loop: a few threads, a bounded queue, a time budget
and a stop when the client leaves.

The event loop only reads requests and writes answers, so ``/healthz`` and stage checks keep
answering while a thread evaluates a big batch. A request that finds the queue full is
answered 503 at once; one whose work (waiting included) passes the budget is answered 504. Work
is stopped between steps, not in the middle of one: a job is never started for a request
that has been answered or whose client has gone, and long jobs (evaluating a batch) look at
their :class:`Token` between chunks. A job that runs on after its request was answered still
holds its place in the queue until it ends, so abandoned work cannot pile up past the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import queue
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from pipeline_rules.server.errors import ApiError
from pipeline_rules.server.logs import event, log

T = TypeVar("T")


class StoppedError(Exception):
    """Raised inside a job whose request no longer wants its result."""


class Token:
    """Tells a job whether its request still wants the result."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._on_stop: list[Callable[[], None]] = []
        #: Checks passed so far: the steps (deals) the job got through.
        self.steps = 0

    def stop(self) -> None:
        """Ask the job to stop at its next check (a job in a child process is killed)."""
        with self._lock:
            self._stop.set()
            hooks, self._on_stop = self._on_stop, []
        for hook in hooks:
            hook()

    @contextlib.contextmanager
    def stopping(self, hook: Callable[[], None]) -> Iterator[None]:
        """Run ``hook`` if the job is stopped within the block (at once if it is already)."""
        with self._lock:
            stopped = self._stop.is_set()
            if not stopped:
                self._on_stop.append(hook)
        if stopped:
            hook()
        try:
            yield
        finally:
            with self._lock:
                if hook in self._on_stop:
                    self._on_stop.remove(hook)

    @property
    def stopped(self) -> bool:
        """Whether the job was asked to stop."""
        return self._stop.is_set()

    def check(self) -> None:
        """Raise :class:`StoppedError` if the job was asked to stop."""
        if self._stop.is_set():
            raise StoppedError
        self.steps += 1


def busy(capacity: int) -> ApiError:
    """503 for a request that finds every compute place taken."""
    return ApiError(503, "busy", f"the server is computing {capacity} requests already; "
                    "retry shortly", limit=capacity)


def over_budget(budget: float) -> ApiError:
    """504 for a request whose work took longer than the budget."""
    return ApiError(504, "over-time-budget",
                    f"the request needed more than its time budget of {budget:g} s; send "
                    "fewer deals per request", limit=budget)


class ClientGoneError(Exception):
    """The client closed the connection before the work was done."""


class ChildFailedError(RuntimeError):
    """A job run in a child process raised, or the child died (the message says which)."""


def in_child(fn: Callable[[], T], token: Token) -> T:
    """``fn()`` in a forked copy of this process, its result pickled back through a pipe.

    For work that may run long or allocate much (a big evaluation, a lint): its garbage
    collections pause the child, not the event loop, and stopping the token kills the child, so
    a request over its budget, abandoned by its client or caught by SIGTERM stops using the CPU
    at once. The child inherits the parsed request and the ruleset versions, so nothing but the
    result is copied.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its outcome is checked through the parent
        os.close(read_fd)
        # Only the pipe stays open: the child must not hold the listening socket or a client's
        # connection open after the parent closes them.
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, os.sysconf("SC_OPEN_MAX"))
        # A stop signal sent to the whole group (systemd, Ctrl-C) is the parent's to handle: it
        # lets the work finish within the shutdown timeout, then kills what is left.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            outcome = pickle.dumps((True, fn()), pickle.HIGHEST_PROTOCOL)
        except BaseException as err:
            outcome = pickle.dumps((False, f"{type(err).__name__}: {err}"))
        with os.fdopen(write_fd, "wb") as sink:
            sink.write(outcome)
        os._exit(0)
    os.close(write_fd)
    reaped = threading.Event()

    def kill() -> None:
        if not reaped.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    with token.stopping(kill), os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
        os.waitpid(pid, 0)
        reaped.set()
    if token.stopped:
        raise StoppedError
    if not data:
        raise ChildFailedError("the child process died without a result")
    ok, value = pickle.loads(data)
    if not ok:
        raise ChildFailedError(value)
    result: T = value
    return result


class ComputePool:
    """``threads`` daemon threads running jobs; at most ``capacity`` jobs waiting or running."""

    def __init__(self, threads: int, capacity: int) -> None:
        self.capacity = max(capacity, threads)
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._held = 0
        self._running = 0
        self._lock = threading.Lock()
        # Daemon threads: a job running on after shutdown cannot keep the process alive.
        self._threads = [threading.Thread(target=self._work, name=f"compute-{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    @property
    def held(self) -> int:
        """Jobs waiting or running now."""
        return self._held

    @property
    def running(self) -> int:
        """Jobs running now."""
        return self._running

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # the loop closed under a late result: the thread goes on
                log.exception("compute job failed", extra={"fields": {"event": "work-failed"}})
            finally:
                with self._lock:
                    self._held -= 1

    async def run(self, fn: Callable[[Token], T], budget: float,
                  gone: Callable[[], Awaitable[Any]] | None = None) -> T:
        """``fn(token)`` in a thread; raise a 503 :class:`ApiError` when full, a 504 one past
        ``budget`` seconds, :class:`ClientGoneError` when ``gone()`` returns first."""
        with self._lock:
            if self._held >= self.capacity:
                raise busy(self.capacity)
            self._held += 1
        loop = asyncio.get_running_loop()
        result: asyncio.Future[T] = loop.create_future()
        token = Token()
        job = self._job(fn, token, lambda value, error: loop.call_soon_threadsafe(
            _settle, result, value, error))
        self._jobs.put(job)
        watcher = asyncio.ensure_future(gone()) if gone is not None else None
        try:
            waiting: set[asyncio.Future[Any]] = {result}
            if watcher is not None:
                waiting.add(watcher)
            done, _ = await asyncio.wait(waiting, timeout=budget,
                                         return_when=asyncio.FIRST_COMPLETED)
            if result in done:
                return result.result()
            if watcher is not None and watcher in done:
                raise ClientGoneError
            raise over_budget(budget)
        finally:
            # Whatever ended the wait (an answer, the budget, the client, a shutdown that
            # cancelled the request), the job is not wanted any longer.
            token.stop()
            if not result.done():
                result.cancel()  # a late result is dropped, not reported as never retrieved
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher

    def _job(self, fn: Callable[[Token], T], token: Token,
             settle: Callable[[T | None, BaseException | None], object]) -> Callable[[], None]:
        def job() -> None:
            if token.stopped:
                event("work-skipped", reason="the request was answered or its client left")
                return
            with self._lock:
                self._running += 1
            try:
                value = fn(token)
            except StoppedError:
                event("work-stopped", steps_done=token.steps)
            except BaseException as err:  # handed to the request, which re-raises it
                settle(None, err)
            else:
                settle(value, None)
            finally:
                with self._lock:
                    self._running -= 1
        return job

    def close(self) -> None:
        """Ask the threads to end once the jobs queued before are done."""
        for _ in self._threads:
            self._jobs.put(None)


def _settle(result: asyncio.Future[T], value: T | None, error: BaseException | None) -> None:
    if result.done():
        return  # the request stopped waiting
    if error is not None:
        result.set_exception(error)
    else:
        result.set_result(value)  # type: ignore[arg-type]


__all__ = ["ChildFailedError", "ClientGoneError", "ComputePool", "StoppedError", "Token", "busy",
           "in_child", "over_budget"]
