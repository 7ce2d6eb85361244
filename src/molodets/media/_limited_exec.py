"""Start a media tool under limits: `python _limited_exec.py DATA_BYTES PARENT_PID -- argv...`.

Run by path with `python -I -S`, so it starts in milliseconds and imports nothing of ours. The
limits are set here and then this process becomes the tool (`execv`), so there is no moment at
which the tool runs unlimited; `preexec_fn` would do the same but is unsafe in our threaded
workers."""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    data_bytes, parent_pid, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: _limited_exec.py DATA_BYTES PARENT_PID -- COMMAND [ARG...]")
    limit = int(data_bytes)
    # RLIMIT_DATA (private writable memory) rather than RLIMIT_AS: ffmpeg's threads reserve
    # address space they never touch, which would trip an address-space limit long before
    # memory runs short.
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not write a core of a user's file
    if sys.platform == "linux":
        # Die with the worker thread that started us: a SIGKILLed worker leaves no transcode
        # running on, and the job's retry starts from a quiet machine.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != int(parent_pid):
            sys.exit(1)  # the worker died before the signal was armed
    os.execv(command[0], command)  # noqa: S606 - the argv is ours: ffmpeg and its options


if __name__ == "__main__":
    main(sys.argv[1:])
