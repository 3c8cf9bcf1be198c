"""Credits: the append-only ledger (:mod:`.ledger`), the quote before Start
(:mod:`.pricing`), Stripe Checkout and its webhook (:mod:`.stripe_checkout`), and what
the billing page shows (:mod:`.statement`)."""
