"""Delivery channels: one small class each with send(report) -> Result."""
