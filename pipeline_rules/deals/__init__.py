"""Deals: the deal model, decoding a record into a deal, and the readers that bring records in."""
