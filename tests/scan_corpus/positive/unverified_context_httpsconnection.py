import http.client
import ssl

unverified = ssl._create_unverified_context()
conn = http.client.HTTPSConnection("db.example.com", 8443, context=unverified)
