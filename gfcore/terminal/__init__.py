"""What a user sees on the terminal: progress bars on stderr, number formatting."""
