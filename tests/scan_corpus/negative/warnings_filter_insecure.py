import warnings

from urllib3.exceptions import InsecureRequestWarning

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.simplefilter("error", InsecureRequestWarning)
warnings.filterwarnings("ignore", message="unclosed file")
