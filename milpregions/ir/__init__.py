"""The intermediate representation: networks, domains, patterns and results (numpy only)."""
