"""What runs leave behind: run records, plots, and the generated parameter docs."""
