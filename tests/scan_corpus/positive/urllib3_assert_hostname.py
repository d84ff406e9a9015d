import urllib3

http = urllib3.PoolManager(assert_hostname=False)
