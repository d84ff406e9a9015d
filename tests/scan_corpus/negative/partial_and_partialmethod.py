import functools

import requests

slow_get = functools.partial(requests.get, timeout=60)
requests.Session.request = functools.partialmethod(requests.Session.request, timeout=60)
