"""The features, a package each (its plain classes in one place: what it lends a reply, what it delivers,
its settings' section named in its docstring), built by the composition root (bot/runtime/composition.py)
with one line each. A feature package imports what is below it (the operator, alive, the server tools,
the reply path, memory, the core, the data layer), never another feature nor the Discord edge; its slash
commands stay a thin cog in cogs/, which its docstring names."""
