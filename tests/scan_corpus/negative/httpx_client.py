import httpx

client = httpx.Client(base_url="https://api.example.com", verify=True)


async def poll() -> None:
    async with httpx.AsyncClient() as aclient:
        await aclient.get("https://api.example.com/poll")
