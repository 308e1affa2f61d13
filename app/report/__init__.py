"""Reports to IT: build one JSON document, keep it in a durable outbox, deliver it by channel."""
