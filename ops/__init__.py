"""The ops command line, ``fulfillment``: works against the local runtime and a deployed stack alike."""
