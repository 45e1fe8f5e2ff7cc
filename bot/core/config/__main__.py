"""The settings docs are generated over the features, whose sections they list (the core imports none):
``python -m bot.runtime.configdocs sync-docs``."""

import sys

sys.exit("the settings docs list every feature's section: run python -m bot.runtime.configdocs "
         + " ".join(sys.argv[1:] or ["example"]))
