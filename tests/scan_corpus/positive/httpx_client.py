import httpx

client = httpx.Client(base_url="https://api.example.com", verify=False)


async def poll() -> None:
    async with httpx.AsyncClient(verify=False) as aclient:
        await aclient.get("https://api.example.com/poll")
