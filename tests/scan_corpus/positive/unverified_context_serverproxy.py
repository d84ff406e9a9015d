import ssl
import xmlrpc.client

proxy = xmlrpc.client.ServerProxy(
    "https://rpc.example.net/RPC2", context=ssl._create_unverified_context()
)
