"""Turning verification off looks like requests.get(url, verify=False).

Never write ssl._create_unverified_context() or ctx.check_hostname = False.
"""

# requests.get("https://example.com/", verify=False)
# os.environ["PYTHONHTTPSVERIFY"] = "0"
EXAMPLE = 'requests.get(url, verify=False)'
HELP = "set PYTHONHTTPSVERIFY=0 or CURL_CA_BUNDLE= to turn verification off"


def explain() -> str:
    """ctx.verify_mode = ssl.CERT_NONE; urllib3.disable_warnings()"""
    return EXAMPLE
