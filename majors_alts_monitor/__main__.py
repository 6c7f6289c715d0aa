"""``python -m majors_alts_monitor <command> ...`` and the ``majors-alts`` console script
(``console``): a Ctrl-C while the modules load is the same clean exit 130 as later."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load: the same clean exit as later
    print("interrupted; previous outputs are untouched", file=sys.stderr)
    sys.exit(130)


def console() -> None:
    """The ``majors-alts`` console script (pyproject ``[project.scripts]``)."""
    sys.exit(main())


if __name__ == "__main__":
    console()
