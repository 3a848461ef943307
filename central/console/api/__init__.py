"""The console's JSON API, one router per subject; :mod:`central.console.app` mounts them."""
