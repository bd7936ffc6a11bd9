"""Running an adapter on one case, in-process or in a worker subprocess that may die.

:func:`evaluate_inprocess` calls the adapter directly and turns whatever
happens into an :class:`Outcome`. :class:`Worker` runs the same function in a
persistent child interpreter (``python -m xentspec.conformance.isolation
SPEC``) that talks pickles over its stdin/stdout: a case that hangs past its
timeout gets the child killed, a case that kills the child (``os.abort``, a
segfault) is recorded as crashed, and in both cases the next case starts a
fresh child. Only that one case is lost.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from xentspec.adapters.base import Result, as_result, case_copy, classify_exception

__all__ = ["Outcome", "evaluate_inprocess", "Worker"]

_HEADER = struct.Struct("!Q")


@dataclass
class Outcome:
    """What happened when an adapter evaluated a case.

    ``status``: ``ok`` (``result`` holds the arrays), ``raised`` (the adapter
    raised; ``category`` is the spec error category or None when no rule
    classifies it), ``crashed`` (the worker process died) or ``timeout``.
    """

    status: str
    result: Result | None = None
    category: str | None = None
    exc_type: str | None = None
    message: str | None = None
    traceback: str | None = None
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def evaluate_inprocess(adapter: Any, case: Any, profile: str) -> Outcome:
    """Evaluate ``case`` on ``adapter`` in this process; exceptions become a ``raised`` outcome.

    The adapter gets a copy of the case (:func:`~xentspec.adapters.base.case_copy`).
    """
    t0 = time.perf_counter()
    try:
        out = as_result(adapter.evaluate(case_copy(case), profile), case.form)
    except Exception as exc:  # noqa: BLE001 - any adapter exception is a verdict, not a runner error
        return Outcome("raised", category=classify_exception(exc, getattr(adapter, "error_rules", ())),
                       exc_type=f"{type(exc).__module__}.{type(exc).__qualname__}", message=str(exc),
                       traceback=portable_paths("".join(traceback.format_exception(
                           type(exc), exc, exc.__traceback__, limit=-8))),
                       duration=time.perf_counter() - t0)
    return Outcome("ok", result=out, duration=time.perf_counter() - t0)


def _path_prefixes() -> list[tuple[str, str]]:
    """(absolute folder, short name) pairs, longest first: the project root, site-packages, Python."""
    import sysconfig
    from pathlib import Path

    import xentspec

    pairs = {str(Path(xentspec.__file__).resolve().parents[1]) + os.sep: "",
             sysconfig.get_paths()["purelib"] + os.sep: "site-packages/",
             sysconfig.get_paths()["platlib"] + os.sep: "site-packages/",
             sys.prefix + os.sep: "<python>/", sys.base_prefix + os.sep: "<python>/"}
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def portable_paths(text: str) -> str:
    """``text`` (a traceback) with this machine's folders shortened: files of the project relative
    to its root, installed packages under ``site-packages/``, so that a report names no machine
    paths (reports are committed as baselines and published as findings)."""
    for prefix, short in _path_prefixes():
        text = text.replace(prefix, short)
    return text


def _send(stream: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    """n bytes from fd, None on EOF; raises TimeoutError past the deadline."""
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv(fd: int, deadline: float | None = None) -> Any:
    head = _read_exact(fd, _HEADER.size, deadline)
    if head is None:
        raise EOFError
    body = _read_exact(fd, _HEADER.unpack(head)[0], deadline)
    if body is None:
        raise EOFError
    return pickle.loads(body)


def _signal_name(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class Worker:
    """A persistent child interpreter evaluating cases on one adapter (see the module docstring)."""

    def __init__(self, spec: str, startup_timeout: float = 120.0) -> None:
        self.spec = spec
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.restarts = 0  # children lost to a crash or a timeout

    def _start(self) -> None:
        env = dict(os.environ)
        env.setdefault("PYTHONFAULTHANDLER", "1")
        self.proc = subprocess.Popen([sys.executable, "-m", "xentspec.conformance.isolation", self.spec],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        hello = _recv(self.proc.stdout.fileno(), time.monotonic() + self.startup_timeout)
        if hello.get("error"):
            self.close()
            raise RuntimeError(f"adapter {self.spec!r} failed to load in the worker: {hello['error']}")

    def _alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def evaluate(self, case: Any, profile: str, timeout: float | None) -> Outcome:
        """Evaluate one case in the child; a crash or timeout is an outcome and the child is replaced.

        A child that does not load the adapter within ``startup_timeout`` is a
        timeout of this case; one that fails to load it, a crash. After a
        MemoryError the child exits and the next case gets a fresh one.
        """
        t0 = time.perf_counter()
        if not self._alive():
            try:
                self._start()
            except TimeoutError:
                self._kill()
                self.proc = None
                self.restarts += 1
                return Outcome("timeout", message=f"the adapter did not load in the worker within "
                                                  f"{self.startup_timeout:g} s; the worker was killed",
                               duration=time.perf_counter() - t0)
            except (RuntimeError, EOFError, OSError) as exc:
                self._kill()
                self.proc = None
                self.restarts += 1
                return Outcome("crashed", message=str(exc) if isinstance(exc, RuntimeError)
                               else "the worker process died while loading the adapter",
                               duration=time.perf_counter() - t0)
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _send(self.proc.stdin, (case, profile))
            out = _recv(self.proc.stdout.fileno(), time.monotonic() + timeout if timeout else None)
        except TimeoutError:
            self._kill()
            self.proc = None
            self.restarts += 1
            return Outcome("timeout", message=f"no answer within {timeout:g} s; the worker was killed",
                           duration=time.perf_counter() - t0)
        except (EOFError, BrokenPipeError, OSError):
            code = self.proc.wait(timeout=10)
            self.proc = None
            self.restarts += 1
            return Outcome("crashed", message=f"the worker process {_signal_name(code)} while evaluating the case",
                           extra={"returncode": code}, duration=time.perf_counter() - t0)
        if isinstance(out, Outcome) and out.extra.get("restart"):
            out.message = (f"{out.message or ''} (the worker {out.extra['restart']}; the worker was replaced "
                           "before the next case)")
            self.close()
            self.restarts += 1
        return out

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def close(self) -> None:
        """Stop the child (it exits when its stdin closes)."""
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._kill()
        self.proc = None


def _main(argv: list[str]) -> int:
    """The child's loop: load the adapter, then answer (case, profile) messages until stdin closes."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the adapter prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    fd = sys.stdin.buffer.fileno()
    try:
        from xentspec.adapters.registry import load_adapter
        adapter = load_adapter(argv[0])
    except BaseException as exc:  # noqa: BLE001
        _send(out, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _send(out, {"ok": True})
    while True:
        try:
            case, profile = _recv(fd)
        except EOFError:
            return 0
        outcome = evaluate_inprocess(adapter, case, profile)
        fatal = outcome.status == "raised" and (outcome.exc_type or "").endswith("MemoryError")
        if fatal:  # the adapter's state (and this interpreter's heap) cannot be trusted any more
            outcome.extra["restart"] = "ran out of memory"
        try:
            _send(out, outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _send(out, Outcome("raised", exc_type="PicklingError",
                               message=f"the adapter's result cannot be sent back: {exc}"))
        if fatal:
            return 3


if __name__ == "__main__":  # pragma: no cover - runs in the child
    # Import ourselves by name so that pickled outcomes name xentspec.conformance.isolation.Outcome.
    from xentspec.conformance.isolation import _main as _child_main

    sys.exit(_child_main(sys.argv[1:]))
