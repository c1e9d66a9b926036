"""Contact: the treatments a policy chooses, the channels that carry them, and what came back."""
