"""Billing: what each app uses (meters), and later what it costs (bills, balance)."""
