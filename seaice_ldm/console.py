"""The ``seaice-ldm`` console script: the first package code that runs, so it imports nothing before its
``try``. A Ctrl-C while the command line and its libraries are still being imported (the first tens of ms)
would otherwise end in an import traceback; here it ends in the same one line as later.

What runs before this function (Python's own start-up, the console script's ``import sys``) is outside any
package code's reach.
"""


def main(argv: list[str] | None = None) -> int:
    try:
        from seaice_ldm.cli import main as command_line

        return command_line(argv)
    except KeyboardInterrupt:  # arrived before the command line's own handling (during its imports)
        import sys

        from seaice_ldm.interrupts import INTERRUPTED

        print(INTERRUPTED, file=sys.stderr)
        return 130
