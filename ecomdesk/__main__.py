from ecomdesk.cli import main

raise SystemExit(main())
