"""Clients shared by the operational commands: AWS error handling and Customer.io's APIs."""
