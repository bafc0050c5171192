"""Die with the supervisor: no child of `manage.py serve` outlives it, even after kill -9.

A killed supervisor cannot stop its children, and an orphaned uvicorn keeps the port, so the
next `make serve` would find it busy. Linux's PR_SET_PDEATHSIG asks the kernel to SIGKILL a
process when its parent dies. The kernel clears it on fork, so it is set at every level:
- for each direct child, in the supervisor's `preexec_fn`;
- in every descendant that runs Django with CONTEXTEN_DIE_WITH_PARENT=1 in its environment
  (which the supervisor sets): at start-up (`install`, from CoreConfig.ready: uvicorn's
  spawned workers) and after each `os.fork` (django-q2's sentinel and workers).
The signal follows the death of the parent *thread*; every fork here happens on a main thread.
"""

import ctypes
import os
import signal
import sys

ENV = "CONTEXTEN_DIE_WITH_PARENT"
PR_SET_PDEATHSIG = 1
_parent_at_fork: list[int] = []


def die_with_parent(expected_parent: int | None = None) -> None:
    """Ask for SIGKILL when the parent dies; exit at once if it already has."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The parent may have died before the call above: then nobody will send the signal.
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)


def preexec_for(parent: int):
    """A `preexec_fn` for subprocess.Popen that ties the child to `parent` (the caller)."""
    return lambda: die_with_parent(parent)


def install() -> None:
    """In a supervised process: tie it and every child it forks to their parents."""
    if os.environ.get(ENV) != "1":
        return
    die_with_parent()
    os.register_at_fork(
        before=_remember_parent,
        after_in_child=lambda: die_with_parent(_parent_at_fork[0] if _parent_at_fork else None),
    )


def _remember_parent() -> None:
    _parent_at_fork[:] = [os.getpid()]
