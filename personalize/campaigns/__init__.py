"""Campaigns and offers: on-site content for segments, discounts and codes, A/B results."""
