"""Local servers that speak a channel's protocol on loopback, for tests, benches and demos (one module per channel).

Each sandbox says in its docstring what it is faithful to (a published spec, or the field lists in
shared/docs/channels.md) and how it can be told to fail like the real service. ``tls.py`` makes a throwaway CA and
server certificate for the sandboxes that speak TLS.
"""
