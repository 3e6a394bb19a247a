"""`edgexray doctor`: what this device is and which engines work on it, for an integrator's first run.

One module per concern: system (OS, Python, numpy), cpu (cores, int8 features), memory, thermal,
availability (which engine wheels exist per machine and Python), engines (what is installed), smoke
(the bundled model on every installed engine, each in its own process), traps (known pitfalls) and
report (the whole, as text or JSON). Nothing here imports TensorFlow or an engine into this process.
"""

from edgexray.doctor.report import DoctorReport, examine

__all__ = ["DoctorReport", "examine"]
