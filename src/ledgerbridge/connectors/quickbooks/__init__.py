"""connectors.quickbooks"""
