"""web.services: what the pages show and do, over the HubSpot API, the ledger and the store."""
