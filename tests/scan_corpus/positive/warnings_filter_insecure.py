import warnings

from urllib3.exceptions import InsecureRequestWarning

warnings.filterwarnings("ignore", category=InsecureRequestWarning)
warnings.simplefilter("ignore", InsecureRequestWarning)
warnings.filterwarnings("ignore", message="Unverified HTTPS request")
