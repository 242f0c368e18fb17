from git_credential_bbtoken.cli import main

raise SystemExit(main())
