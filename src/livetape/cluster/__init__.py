"""Running on many machines: the NATS connection, the node registry and cluster-wide notices.

Only NATS lives here (no database, no storage): the services above are handed an announce
hook and the registry's answers, never a NATS client.
"""
