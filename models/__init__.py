"""Plate recognition for unattended lanes.

Entry point: :class:`models.reader.PlateReader` (frames of one vehicle in, one
:class:`models.result.PlateResult` out), or :class:`models.worker.RecognitionWorker`
to run it off the lane's thread. Stages: :mod:`models.locate`,
:mod:`models.rectify`, :mod:`models.recognise`, :mod:`models.grammar` with
:mod:`models.ctc` and :mod:`models.rerank`, :mod:`models.vote`; plate lists use
:mod:`models.match`. Nothing heavy is imported here, so ``lanewarden --help``
stays instant.
"""
