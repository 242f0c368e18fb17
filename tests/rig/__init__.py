"""The test rig every test of the project reuses: real git, a real Secret Service on a private
D-Bus, and a Bitbucket-like HTTPS server on loopback. No mocks.

Modules, one job each:
  isolation       the per-test environment (tmp HOME, XDG dirs, git config, no proxies)
  secret_service  a private dbus-daemon + gnome-keyring-daemon, and what tests see of it
  certs           a test CA and a server certificate, made with the openssl CLI
  accounts        users, tokens, app passwords and Bitbucket's authentication answers
  rest            the REST API under /2.0
  githttp         bare repositories and the real `git http-backend` CGI
  server          the HTTPS server that ties accounts, rest and githttp together (with
                  per-repository permissions: set_permission)
  datacenter      a Bitbucket Data Center-like server (HTTP access tokens, /scm/, REST)
  proxy           a loopback CONNECT proxy that logs what it tunnels
  gitrun          running git, `git credential` and our helper
  askpass         a scripted GIT_ASKPASS program that logs its prompts
  systemhelper    a system git config naming the platform's helper (manager, osxkeychain),
                  faked by a script that logs its calls
  required        skip a test that cannot run here, or fail it where CI requires it
"""
