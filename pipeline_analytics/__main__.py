from pipeline_analytics.cli import main

raise SystemExit(main())
