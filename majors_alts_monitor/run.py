"""``python -m majors_alts_monitor.run --start S --end E --config C``"""

import gc
import sys

_gc_on = gc.isenabled()
if __name__ == "__main__":  # while the modules load: resumed once they are in (cli.run_entry)
    gc.disable()
try:
    from .cli import run_entry
except KeyboardInterrupt:  # Ctrl-C while the modules load: the same clean exit as later
    print("interrupted; previous outputs are untouched", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    run_entry(resume_gc=_gc_on)
