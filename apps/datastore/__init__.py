"""Data services behind `fastn.state` (durable key-value state) and `fastn.db` (tenant SQL)."""
