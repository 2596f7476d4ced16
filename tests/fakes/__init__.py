"""Local stand-ins for the outside services the tests talk to (Customer.io over real TLS)."""
