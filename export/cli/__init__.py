"""The workstation commands (`export`, `train`, `evaluate`, `synth`).

The runtime CLI (edgexray.cli.main) registers them by name only, so the runtime never imports this
package; each module here is imported when its command runs or help lists it.
"""
