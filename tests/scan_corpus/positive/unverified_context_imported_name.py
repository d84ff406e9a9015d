from ssl import _create_unverified_context as insecure_context
from urllib.request import urlopen

urlopen("https://legacy.example.org/", context=insecure_context())
