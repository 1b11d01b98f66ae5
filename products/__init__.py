"""The catalog's products: one module per product, plus the registry and the catalog settings."""
