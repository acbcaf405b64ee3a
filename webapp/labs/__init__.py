"""Labs: each lesson of the tutorial as a live, measured experiment (issue 6).

The LabRunner (:mod:`webapp.labs.runner`) starts runs from the Dashboard's context; the
Labs' routes and Socket.IO events are in the web layer (:mod:`webapp.web.labs_routes`,
:mod:`webapp.web.labs_events`), which creates the runner in ``app.extensions["mpscope_labs"]``.
"""
