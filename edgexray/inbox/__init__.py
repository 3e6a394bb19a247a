"""`edgexray watch INBOX`: classify every image that lands in a folder, once, crash-safe.

readiness (when a file is complete), events (inotify through watchdog, when installed), journal
(which files are finished), moves (atomic moves to --done/--failed), processor (what happens to the
files that are ready, one batch at a time, in crash-safe order, each file isolated) and watcher
(the loop that puts them together).
"""
