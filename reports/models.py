"""Report models: come with the reports issue."""
