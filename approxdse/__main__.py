from approxdse.cli import main

raise SystemExit(main())
