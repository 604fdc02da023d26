"""The IA Modules executor: runs pipelines durably (ia.executor.v1.ExecutorService).

- `server.py` wires the parts and resumes unfinished runs at start-up;
- `service.py` maps each RPC to `runs.Runs` (`messages.py` builds the replies);
- `runs.py` and `run.py` are the domain: runs, child runs, human tasks, watching;
  each run in progress is driven by the engine (`ia_modules.engine`);
- `store.py` is persistence: runs, the signal journal, events, step runs, tasks.
"""
