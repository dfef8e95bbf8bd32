"""Small widgets of the main window that are neither docks nor dialogs (the track timeline)."""
