"""The connectors app's URLs, one module per console area (each included in
fastn_console/urls.py): connectors (Integrations → Connectors), connections (Integrations →
Connections), traces (Activity → Traces), oauth_apps (Settings → OAuth Apps) and oauth (the
provider's redirect back, outside any Space)."""
