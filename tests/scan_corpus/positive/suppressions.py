import requests

requests.get("https://a.example/", verify=False)  # nosec
requests.get("https://b.example/", verify=False)  # nosec B501
requests.get("https://c.example/", verify=False)  # noqa: S501
requests.get("https://d.example/", verify=False)  # noqa
requests.get("https://e.example/", verify=False)  # noqa: E501
requests.get("https://f.example/", verify=False)  # noqa: SH101
requests.get("https://g.example/#nosec", verify=False)
