"""The Azure boundary: credentials, SDK clients, and one module per Azure concern."""
