"""Money in, the rules without I/O (issue 15): reading bank files (camt.053/.054, MT940) into
``model.receivables.BankEntry``, matching entries against open items, the dunning arithmetic (Mahngebühren per
Land, Säumniszuschläge per § 240 AO) and SEPA direct debit files (pain.008). ``erechnung.stadtkasse`` runs them
against the state database."""
