"""Diagnosis: probe the mail service in layers and say whose problem it is."""
