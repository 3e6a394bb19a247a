"""`edgexray doctor`: what this device is and which engines work on it, for an integrator's first run.

One module per job: facts (what the device is: OS, Python, numpy, cores and int8 features, memory,
thermal state), engines (which engines are installed, and which wheels exist for this machine and
Python), smoke (the bundled model on every installed engine, each in its own process; smoke_child
is that process's entry point) and report (the known traps as warnings, and the whole, as text or
JSON). Nothing here imports TensorFlow or an engine into this process.
"""

from edgexray.doctor.report import DoctorReport, examine

__all__ = ["DoctorReport", "examine"]
