"""Background jobs as the app sees them: queue names and every enqueue, by dotted path.

The job functions themselves live in ``workers/``; app code names them as strings
(``"workers.jobs.push"``) and RQ imports them in the worker, so ``app`` never imports
``workers`` and the layers stay one-way (checked by import-linter in ``bin/test``).
"""
