"""The tray and its windows: the only place PySide6 is imported."""
