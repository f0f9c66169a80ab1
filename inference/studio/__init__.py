"""`tonematch studio`: a local listening studio (the `studio` extra: Starlette on uvicorn).

Nothing heavy is imported here: the command line registers the verb at every start.
"""
