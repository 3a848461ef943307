"""Plate-reading rules of one region beyond its grammar's templates (:mod:`models.grammar`).

The reader's pipeline (:mod:`models.reader`) is the same everywhere; what only
Chinese plates need (the province glyph read apart, the local-province prior,
the plate's coloured background, two-row plates) is in :mod:`models.regions.cn`
and :mod:`models.regions.cn_province`.
"""
