"""Analytics and dashboards: market trends, price history, risk trends, admin analytics."""
