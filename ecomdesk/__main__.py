from ecomdesk.cli.main import main

raise SystemExit(main())
