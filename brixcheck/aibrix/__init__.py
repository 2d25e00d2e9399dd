"""Facts about each supported AIBrix version: names, headers, routes and ports, as constants."""
