"""``python -m majors_alts_monitor.sweep SWEEP.yaml [--workers N] [--scheduler ADDRESS] ...``"""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["sweep", *sys.argv[1:]]))
