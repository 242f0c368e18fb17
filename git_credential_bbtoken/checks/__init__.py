"""What Bitbucket says a token can do: the only package that imports `requests`."""
