"""People who collect: collectors (the lender's staff and agencies'), registration, training."""
