"""connectors.hubspot"""
