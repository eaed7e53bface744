"""Inbound store platforms, one module each, behind the ``InboundPlatform`` port."""
