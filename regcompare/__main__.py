import sys

from regcompare.cli import main

sys.exit(main())
