import urllib.request

opener = urllib.request.build_opener(urllib.request.HTTPSHandler(check_hostname=False))
