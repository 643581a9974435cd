"""A notice about a model (the classifier head dropped, a batch axis fixed) shown once per
process: a series of models or of commands run in one process (``main`` called again, a
notebook) repeats none of them (issue 24). The importer marks these records
(``extra={"model_notice": True}``); other messages pass unchanged."""

from __future__ import annotations

import logging

#: the model notices shown so far in this process: what "once per process" has to remember
_SHOWN: set[str] = set()


class OncePerProcess(logging.Filter):
    """Passes a model notice the first time its text is seen in this process."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "model_notice", False):
            return True
        text = record.getMessage()
        if text in _SHOWN:
            return False
        _SHOWN.add(text)
        return True
