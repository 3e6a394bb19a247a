"""Exit codes of every edgexray command (documented in docs/exit-codes.md).

A runtime module, not a CLI one, so library code (the export pipeline's errors) can name the code a
failure ends with without importing the CLI.
"""

OK = 0  # every input succeeded
FATAL = 1  # nothing could be done: the model cannot load, a missing extra, an export that failed
USAGE = 2  # a bad flag or argument (click's convention)
PARTIAL = 3  # some inputs failed; the others were processed and written
PARITY = 4  # export: a variant fell below --min-agreement or --max-drop (without --allow-degraded)
INTERRUPTED = 130  # Ctrl-C or SIGTERM; results written so far are complete records
# The reader of stdout went away (`edgexray classify DIR | head`): the run stops quietly. 128 +
# SIGPIPE(13), what a shell reports for a tool SIGPIPE ended (`yes | head`), so scripts that already
# tell that case apart need nothing new; not 0, because not all the output was delivered.
OUTPUT_CLOSED = 141
