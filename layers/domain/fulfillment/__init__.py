"""Order fulfillment domain: canonical orders, their lifecycle, ports and adapters.

Layering (enforced by review, not by imports): ``model`` and ``errors`` depend on nothing
but pydantic; ``services`` depend on ``model`` and ``ports``; only ``adapters`` and
``bootstrap`` know about boto3, HTTP or environment variables.
"""
