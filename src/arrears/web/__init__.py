"""The web app: the borrower's portal and the lender's console, server-rendered pages on the
same service layer as the API (``arrears.api``). ``site.create_site`` serves both."""
