"""The registry service: stores pipeline definitions as immutable, numbered revisions.

- `server.py` wires the parts and starts serving (`ia-registry`);
- `service.py` maps the RegistryService RPCs to the domain;
- `registry.py` holds the rules (validation, revisions, updates, imports, paging);
- `store.py` keeps the versions in the database.
"""
