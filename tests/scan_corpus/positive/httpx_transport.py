import httpx

transport = httpx.HTTPTransport(verify=False, retries=2)
client = httpx.Client(transport=transport)
async_transport = httpx.AsyncHTTPTransport(verify=False)
