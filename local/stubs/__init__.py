"""Local stand-ins for the store platforms APIs, one module per platform: install(api)."""
