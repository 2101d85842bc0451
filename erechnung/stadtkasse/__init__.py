"""The Stadtkasse's cycle against the state database (issue 15): open items from handed-over documents
(Sollstellung), the booking export for the finance system, importing bank files and booking what matched, the
clarification list, direct debit runs and dunning runs. The rules themselves are in ``erechnung.payments``."""
