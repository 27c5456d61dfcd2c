"""Revisions ``0001`` … of the clinic store's schema; revision ``000N`` makes version N."""
