"""The simulated collection operation: scripted borrowers and staff around real business days.

A sub-package of the services because it drives the close (``services.close``), which itself
stands on the services below it.
"""
