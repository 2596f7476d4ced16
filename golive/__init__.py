"""golive: the Customer.io go-live checklist as a Pulumi policy pack, checked offline."""

__version__ = "0.1.0"
