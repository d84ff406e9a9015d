import http.client
import ssl

conn = http.client.HTTPSConnection("db.example.com", context=ssl.create_default_context())
