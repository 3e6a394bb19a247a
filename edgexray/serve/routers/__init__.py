"""One router per resource: classify, model, health, metrics (and the screen)."""
