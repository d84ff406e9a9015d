import http.client
import ssl

verified = ssl.create_default_context()
conn = http.client.HTTPSConnection("db.example.com", 8443, context=verified)
