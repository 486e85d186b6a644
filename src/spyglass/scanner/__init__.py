"""Security scans: verified targets, the crawler, passive and active checks, findings and reports."""
