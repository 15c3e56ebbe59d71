"""Runs a command on a pseudo-terminal and answers its first "[y/N]" prompt.

usage: python3 terminal.py ANSWER COMMAND [ARG...]

Prints what the command wrote to the terminal (the answer echoed after the prompt) and
exits with the command's status. The infra.sh tests use it for `destroy`, which asks for
confirmation only when its stdin is a terminal.
"""

import os
import pty
import sys


def main():
    answer, argv = sys.argv[1], sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out, answered = b"", False
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if not answered and b"[y/N] " in out:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode().replace("\r\n", "\n"))
    sys.exit(os.waitstatus_to_exitcode(status))


main()
