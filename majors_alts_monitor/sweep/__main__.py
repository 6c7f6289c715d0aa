"""``python -m majors_alts_monitor.sweep SWEEP.yaml [--workers N] [--scheduler ADDRESS] ...``"""

import sys

try:
    from ..cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load: the same clean exit as later
    print("interrupted; previous outputs are untouched", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    sys.exit(main(["sweep", *sys.argv[1:]]))
