"""Icons and desktop files, shipped inside the package as `app.resources`."""
