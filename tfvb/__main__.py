from tfvb.cli import main

raise SystemExit(main())
