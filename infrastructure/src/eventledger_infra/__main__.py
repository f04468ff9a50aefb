import sys

from eventledger_infra.cli import main

sys.exit(main())
