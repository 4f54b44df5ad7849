"""The compute pool in process: a bounded queue, a time budget, work stopped between steps and
children killed when their request no longer wants the result."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from pipeline_rules.server.compute import (
    ChildFailedError,
    ComputePool,
    StoppedError,
    Token,
    in_child,
)
from pipeline_rules.server.errors import ApiError


def test_a_child_returns_its_result_and_its_failure() -> None:
    assert in_child(lambda: {"pid": os.getpid()}, Token())["pid"] != os.getpid()
    with pytest.raises(ChildFailedError, match="ZeroDivisionError"):
        in_child(lambda: 1 // 0, Token())


def test_stopping_the_token_kills_the_child() -> None:
    token = Token()
    outcome: list[BaseException] = []

    def wait_for_child() -> None:
        try:
            in_child(lambda: time.sleep(600), token)
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=wait_for_child)
    thread.start()
    time.sleep(0.3)
    token.stop()
    thread.join(timeout=30)
    assert not thread.is_alive() and isinstance(outcome[0], StoppedError)


def test_a_stopped_token_stops_a_job_between_steps() -> None:
    token = Token()
    token.check()
    token.stop()
    with pytest.raises(StoppedError):
        token.check()
    assert token.steps == 1


def test_budget_and_queue() -> None:
    async def scenario() -> None:
        pool = ComputePool(threads=1, capacity=1)
        release = threading.Event()
        steps: list[int] = []

        def long_job(token: Token) -> str:
            for step in range(1000):
                token.check()
                steps.append(step)
                release.wait(0.01)
            return "done"

        slow = asyncio.ensure_future(pool.run(long_job, budget=0.3))
        await asyncio.sleep(0.05)
        with pytest.raises(ApiError) as busy:
            await pool.run(lambda token: "quick", budget=5)
        assert (busy.value.status, busy.value.code) == (503, "busy")
        with pytest.raises(ApiError) as late:
            await slow
        assert (late.value.status, late.value.code) == (504, "over-time-budget")
        while pool.held:  # the job stops at its next step and gives its place back
            await asyncio.sleep(0.01)
        assert len(steps) < 1000
        assert await pool.run(lambda token: "quick", budget=5) == "quick"
        pool.close()

    asyncio.run(scenario())
