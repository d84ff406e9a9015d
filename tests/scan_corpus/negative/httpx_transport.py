import httpx

transport = httpx.HTTPTransport(verify=True, retries=2)
client = httpx.Client(transport=transport)
async_transport = httpx.AsyncHTTPTransport()
