"""``python -m majors_alts_monitor.signals --asof D --config C``"""

import gc
import sys

_gc_on = gc.isenabled()
if __name__ == "__main__":  # while the modules load: resumed once they are in (cli.run_entry)
    gc.disable()
try:
    from .cli import signals_entry
except KeyboardInterrupt:  # Ctrl-C while the modules load: the same clean exit as later
    print("interrupted; previous outputs are untouched", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    signals_entry(resume_gc=_gc_on)
