"""Ways into programs that were not written for securehttp: ``install()`` for the standard
library (:mod:`.install`), and the requests and httpx integrations (:mod:`.requests`,
:mod:`.httpx`).  Each module imports the library it integrates with only when it is used;
nothing is imported here."""
