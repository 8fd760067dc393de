"""The web service: app factory, routers, pages, security, caches and the probe worker."""
