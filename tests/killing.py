"""Running the real `bmsync sync` command and SIGKILLing it at a chosen action.

Wall-clock delays make poor kill points: on a fast machine a run is over before the delay, on a
busy one it has not begun, and a test that only records where the kill landed can pass having
killed nothing mid-run. So the kill is driven by the command's own progress: given a terminal as
stderr, `bmsync sync` draws its live progress (`N/M files`, redrawn ten times a second), and
`ProgressTerminal` reads
those lines as they come. After the kill it reads what the command printed before it died, so
`events` is the number of actions finished at the moment of death, not when the signal was sent.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
from collections.abc import Mapping, Sequence
from types import TracebackType

_PROGRESS = re.compile(rb"(\d+)/(\d+) files")
"""The live progress's count of finished actions (`bmsync.cli.rich_view`), redrawn 10 times a
second."""
_TAIL_BYTES = 4096
WAIT_S = 300.0


class ProgressTerminal:
    """`argv` started with a pseudo-terminal as stderr; `events` / `total` follow its progress.

    Use as a context manager: leaving it kills the command if it still runs and closes the
    terminal.
    """

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        master, slave = pty.openpty()
        try:
            self.proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=slave,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._master = master
        self._tail = b""
        self.events = 0
        self.total = 0

    def __enter__(self) -> ProgressTerminal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self._master)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def read(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for output and take in one chunk of it; False when there is
        nothing more to read (nothing came, or the command closed the terminal)."""
        ready, _, _ = select.select([self._master], [], [], timeout_s)
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: the command closed its side of the terminal
            return False
        self._take(chunk)
        return bool(chunk)

    def kill(self) -> int:
        """SIGKILL the command (if it still runs), reap it, and read what it printed before it
        died. Returns its exit status (`-signal.SIGKILL` when the kill landed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        returncode = self.proc.wait(timeout=WAIT_S)
        while self.read(0):
            pass
        return returncode

    @property
    def mid_run(self) -> bool:
        """At least one action finished and at least one had not."""
        return 0 < self.events < self.total

    def _take(self, chunk: bytes) -> None:
        self._tail = (self._tail + chunk)[-_TAIL_BYTES:]
        matches = _PROGRESS.findall(self._tail)
        if matches:
            self.events, self.total = int(matches[-1][0]), int(matches[-1][1])


def killed(returncode: int) -> bool:
    return returncode == -signal.SIGKILL
