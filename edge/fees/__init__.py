"""The fee engine: tariffs, networks and ``quote(tariff, passage) -> Fee``.

Pure: nothing here reads the clock or does I/O, except :mod:`edge.fees.files`,
the thin shell that reads tariff and network files from disk.
"""
