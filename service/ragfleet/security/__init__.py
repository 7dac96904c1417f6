"""Who may call what: API keys with scopes, network allow-lists."""
