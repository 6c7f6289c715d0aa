"""``python -m majors_alts_monitor.signals --asof D --config C``"""

import gc
import sys

_gc_on = gc.isenabled()
gc.disable()  # while the modules load: resumed by the command once they are in (cli.run_entry)
try:
    from .cli import signals_entry
except KeyboardInterrupt:  # Ctrl-C while the modules load: the same clean exit as later
    print("interrupted; previous outputs are untouched", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    signals_entry(resume_gc=_gc_on)
