"""The world's state: columnar populations (:mod:`.population`), items (:mod:`.items`),
the social and follow graphs (:mod:`.graphs`), shared names (:mod:`.vocabulary`) and
array idioms (:mod:`.arrays`). Agents (:mod:`simulator.agents`) are views on these rows."""
