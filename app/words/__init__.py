"""Every sentence MailBeacon shows, one module per audience: `staff` for what anyone at the
company reads (headlines, advice, tooltip, menu, notifications, Details, the report dialog) and
`it` for what IT reads (every check's detail sentence, the technical lines behind "Details for
IT", why the status feed could not be read, what each discovery attempt found). Qt-free, so the
core, the CLI and the tray say the same thing."""
