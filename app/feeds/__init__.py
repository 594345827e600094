"""What Forecourt offers feed partners besides pushing: the admin endpoints of a whole-stock
feed (status, send now, confirm a held feed), the pull endpoint a partner calls on its own
schedule, and the CSV a dealer uploads by hand."""
