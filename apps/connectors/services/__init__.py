"""Writes of the connectors app: custom connectors (connectors.py), connections
(connections.py)."""
