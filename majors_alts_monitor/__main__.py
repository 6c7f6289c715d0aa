"""``python -m majors_alts_monitor run|signals|synth ...``"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
