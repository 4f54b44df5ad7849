"""The regulation studio (``pipeline-rules studio``): a local web app to edit a ruleset with
live lint and a live diagram, built on the HTTP service's pieces (needs the ``server`` extra).

:mod:`.context` (what the routes share), :mod:`.app` (the ASGI app), :mod:`.editor` (lint as
you type, fixes, saving), :mod:`.diagram` (the pipeline drawn as SVG) and :mod:`.deals_routes`
(deals, timelines, what if).
"""
