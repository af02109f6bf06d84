import sys

from migtool.cli import main

sys.exit(main())
