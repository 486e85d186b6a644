"""Market bots: saved marketplace searches, listings, de-duplication, price history, favorites and alerts."""
