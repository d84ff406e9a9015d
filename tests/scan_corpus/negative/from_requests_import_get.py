from requests import get

response = get("https://vendor.example/status", verify="/etc/ssl/certs/corp-ca.pem", timeout=5)
