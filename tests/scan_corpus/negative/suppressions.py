import requests

requests.get("https://a.example/", verify=True)  # nosec
requests.get("https://b.example/", verify=True)  # nosec B501
requests.get("https://c.example/", verify=True)  # noqa: S501
requests.get("https://d.example/", verify=True)  # noqa
requests.get("https://e.example/", verify=True)  # noqa: E501
requests.get("https://f.example/", verify=True)  # noqa: SH101
requests.get("https://g.example/#nosec", verify=True)
