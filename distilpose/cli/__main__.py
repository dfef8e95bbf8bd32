import sys

from distilpose.cli import main

sys.exit(main())
