from ssl import create_default_context as insecure_context
from urllib.request import urlopen

urlopen("https://legacy.example.org/", context=insecure_context())
