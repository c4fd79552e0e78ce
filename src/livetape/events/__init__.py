"""Events: what happened to an app's recordings and files, written to the outbox (the
``events`` table) in the transaction of the change. Delivered by :mod:`livetape.webhooks`."""
