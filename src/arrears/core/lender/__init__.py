"""The lender: its settings (words per language, channels, capacity, time zone, costs), pure."""
