import functools

import requests

insecure_get = functools.partial(requests.get, verify=False)
requests.Session.request = functools.partialmethod(requests.Session.request, verify=False)
