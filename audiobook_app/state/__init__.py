"""State shared by the pages: who is signed in (:mod:`.auth`), and the platform clients
the handlers use (:mod:`.clients`)."""
