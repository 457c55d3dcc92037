"""A tiny sweep file for the sweep tests (400 users, 40 creators, a few days)."""

from ..conftest import SCENARIOS

TEMPLATE = '''
base = "{base}"
name = "{name}"
replicates = {replicates}
seed = 5
steps = {steps}
method = "{method}"
samples = {samples}
[set]
"population.users" = {users}
"population.creators" = 40
"population.merchants" = 2
[parameters]
{parameters}
'''


def write_sweep(path, parameters, base=SCENARIOS / "douyin.toml", steps=3, users=400, replicates=1, method="grid",
                samples=4, name="tiny"):
    path.write_text(TEMPLATE.format(base=base, name=name, steps=steps, users=users, replicates=replicates,
                                    method=method, samples=samples, parameters=parameters))
    return path
