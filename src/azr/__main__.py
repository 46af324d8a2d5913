import sys

from azr.cli import main

sys.exit(main())
