"""sandbox.quickbooks"""
