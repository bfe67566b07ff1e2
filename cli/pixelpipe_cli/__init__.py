"""The `pixelpipe` command and the local stack it runs (moto server + Lambda-like event sources)."""
