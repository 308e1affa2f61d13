"""Every sentence MailBeacon shows, one module per audience: `staff` for what anyone at the
company reads (headlines, advice, tooltip, menu, notifications, Details, the report dialog) and
`it` for what IT reads (the technical lines behind "Details for IT" and probe hints). Qt-free, so
the core, the CLI and the tray say the same thing."""
