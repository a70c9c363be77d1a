"""The end-to-end matrix's cells, one case book per group of client × upstream pairs; the harness
that runs every cell is tests/e2e/test_matrix.py."""
