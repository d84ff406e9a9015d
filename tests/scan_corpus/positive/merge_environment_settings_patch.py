import requests

old_merge_environment_settings = requests.Session.merge_environment_settings


def merge_environment_settings(self, url, proxies, stream, verify, cert):
    settings = old_merge_environment_settings(self, url, proxies, stream, verify, cert)
    settings["verify"] = False
    return settings


requests.Session.merge_environment_settings = merge_environment_settings
