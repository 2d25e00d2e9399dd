"""An emulator of AIBrix v0.5.0's gateway plugin (``aibrix/gateway-plugins``): the Envoy external
processor that picks a model pod per request. AIBrix's Go module cannot be fetched here, so the
twin runs this in its place; a real gateway-plugins binary the user supplies can always replace
it (``brixcheck twin up --gateway-plugin PATH``). Every behaviour cites the v0.5.0 source file
that decides it (docs/gateway-plugin.md).

Layout: ``types`` (the seam between the plugin's core and its routing algorithms, mirroring
``pkg/types`` and ``pkg/cache``), ``algorithms`` (one module per strategy family), the core
(ext_proc server, request/response phases, rate limits, pod and metric cache).
"""
