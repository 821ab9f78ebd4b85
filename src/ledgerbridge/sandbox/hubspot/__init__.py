"""sandbox.hubspot"""
