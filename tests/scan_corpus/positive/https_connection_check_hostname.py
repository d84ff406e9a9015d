import http.client

conn = http.client.HTTPSConnection("db.example.com", check_hostname=False)
