"""The borrower's tools: what they owe and can afford, and plans to pay it off."""
