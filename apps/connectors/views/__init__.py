"""Console views of the connectors app, one module per area (see apps/connectors/urls/)."""
