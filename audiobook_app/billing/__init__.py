"""Credits: the append-only ledger (:mod:`.ledger`), the quote before Start
(:mod:`.pricing`) and Stripe Checkout (:mod:`.stripe_checkout`)."""
