"""Plain-Python use cases over the store. Ownership and visibility are enforced here."""
