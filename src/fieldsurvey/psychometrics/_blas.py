"""BLAS on one thread for the psychometrics' matrix work (see :mod:`fieldsurvey._blas`)."""

from fieldsurvey._blas import single_threaded_blas

__all__ = ["single_threaded_blas"]
