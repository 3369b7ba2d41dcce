from pytrace.runtime.cli import main

raise SystemExit(main())
