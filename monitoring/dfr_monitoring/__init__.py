"""dfr-deploy's monitoring layer: settings, rendered configs, service commands, mail catcher."""
