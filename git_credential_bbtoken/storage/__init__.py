"""Where credentials are kept: the metadata file, the secret stores, and the two in step."""
