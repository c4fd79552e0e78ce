"""Client side of livetape: the HTTP API client, WHIP publisher and pre-encoded media."""
