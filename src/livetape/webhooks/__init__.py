"""Webhooks: an app's endpoints, the signed deliveries of its events (at least once, in order
per recording, retried with backoff, one server per attempt) and the event feed."""
