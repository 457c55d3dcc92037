"""A tiny calibration file for the calibration tests: the Douyin-like scenario at 400
users, 40 creators, 2 merchants, 3 days; one free parameter, ``platforms.douyin.ad_load``,
and one inline target on the commercial share of impressions, which rises steeply and
monotonically with the ad load (the toy problem: its answer is known)."""

from ..conftest import SCENARIOS

TEMPLATE = '''
name = "{name}"
seed = {seed}
method = "{method}"
budget = {budget}
batch = {batch}
startup = {startup}
replicates = {replicates}
steps = {steps}
tolerance = {tolerance}
{head}

[scenarios]
douyin = "{base}"

[set]
"population.users" = 400
"population.creators" = 40
"population.merchants" = 2

[parameters."platforms.douyin.ad_load"]
range = [0.02, 0.4]
{extra_parameters}
[targets.toy_commercial_share]
claim = "toy: the commercial share of impressions the model gives at a known ad load"
source = "the model itself"
source_kind = "model contrast"
role = "fit"
rule = "band"
scenario = "douyin"
metric = "commercial_share_impressions"
lo = {lo}
hi = {hi}
'''


def write_calibration(path, *, name="toy", seed=3, method="tpe", budget=8, batch=4, startup=4, replicates=1,
                      steps="3", tolerance=0.5, lo=0.1, hi=0.12, extra_parameters="", base=SCENARIOS / "douyin.toml", head=""):
    path.write_text(TEMPLATE.format(name=name, seed=seed, method=method, budget=budget, batch=batch, startup=startup,
                                    replicates=replicates, steps=steps, tolerance=tolerance, lo=lo, hi=hi,
                                    extra_parameters=extra_parameters, base=base, head=head))
    return path
