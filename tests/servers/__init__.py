"""Real servers on loopback for tests: SMTP, IMAP, DNS, HTTP, hostile ones. Never off-machine."""
