"""The `edgexray` command line (click)."""
