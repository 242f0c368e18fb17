"""git-credential-bbtoken: a git credential helper for Bitbucket API tokens."""

__version__ = "0.1.0"
