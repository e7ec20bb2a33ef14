"""The paper's vocabulary of networks: each mode's degradation, where its second input's
parameter comes from (SOURCES), its image-only twin and its label in tables. Every script asks
these; no other table of modes exists."""
from dataclasses import dataclass

from degraded_cnn.vocabulary import degradations


# What a parameter-aware network's second input gets: the estimator's answer, the true value,
# or a placebo drawn from the true value's distribution, independent of the image (a control
# that has a second input with the right distribution and no information); and how a printed
# answer names it ("estimated QF 34.3").
SOURCES = {"none": None, "estimated": "estimated", "true": "true",
           "shuffled": "random (placebo)"}


@dataclass(frozen=True)
class Mode:
    degradation: str | None  # None: clean images
    source: str              # where the second input's parameter comes from: SOURCES
    label: str               # its name in tables and figures
    twin: str | None = None  # the image-only network that a parameter-aware one is compared with
    control: bool = False    # a control of this project's: trained on request, swept where trained
    # Beyond the paper: what a second output regresses while training, the level as a training
    # target ("true") or a placebo level drawn independently of the image ("shuffled"); the
    # network is image-only at test time. None: no second output.
    target: str | None = None

    @property
    def has_parameter(self):
        return self.source != "none"

    @property
    def needs_estimator(self):
        return self.source == "estimated"

    @property
    def told(self):
        """How a printed answer names the parameter this mode was given."""
        return SOURCES[self.source]

    @property
    def told_truth(self):
        """Told the true parameter, which must then be known (given with --param, or the
        value swept)."""
        return self.source == "true"


# The modes the paper compares, and the placebo controls: which images the network is trained
# on, and what it is told.
MODES = {
    "org": Mode(None, "none", "Org"),
    "jpg": Mode("jpeg", "none", "Jpg"),
    "est_qf": Mode("jpeg", "estimated", "Jpg+Est.QF", "jpg"),
    "known_qf": Mode("jpeg", "true", "Jpg+Known.QF", "jpg"),
    "shuffled_qf": Mode("jpeg", "shuffled", "Jpg+Shuffled.QF", "jpg", control=True),
    "noisy": Mode("noise", "none", "Noisy"),
    "est_nl": Mode("noise", "estimated", "Noisy+Est.NL", "noisy"),
    "known_nl": Mode("noise", "true", "Noisy+Known.NL", "noisy"),
    "shuffled_nl": Mode("noise", "shuffled", "Noisy+Shuffled.NL", "noisy", control=True),
    # Beyond the paper: noise, then JPEG, and the (sigma, q) pair as the second input. The
    # mixture study trains its placebo with the rest, so it is not an optional control here.
    "mixed": Mode("mixed", "none", "Mixed"),
    "est_pair": Mode("mixed", "estimated", "Mixed+Est.pair", "mixed"),
    "known_pair": Mode("mixed", "true", "Mixed+Known.pair", "mixed"),
    "shuffled_pair": Mode("mixed", "shuffled", "Mixed+Shuffled.pair", "mixed"),
    # Beyond the paper: the level as privileged information, known while training only.
    "aux_qf": Mode("jpeg", "none", "Jpg+Aux.QF", "jpg", control=True, target="true"),
    "aux_shuffled_qf": Mode("jpeg", "none", "Jpg+Aux.Shuffled.QF", "jpg", control=True,
                            target="shuffled"),
    "aux_nl": Mode("noise", "none", "Noisy+Aux.NL", "noisy", control=True, target="true"),
    "aux_shuffled_nl": Mode("noise", "none", "Noisy+Aux.Shuffled.NL", "noisy", control=True,
                            target="shuffled"),
}


def compared_modes(degradation, controls=False):
    """The networks compared for `degradation`: the paper's (org, its image-only network and its
    parameter-aware ones) and, with `controls`, the placebo controls too."""
    return tuple(name for name, mode in MODES.items()
                 if mode.degradation in (None, degradation) and (controls or not mode.control))


def placebo_of(name):
    """The placebo control of a mode told the estimate or the true parameter (the shuffled_*
    mode of its degradation), or trained to regress the true level (aux_shuffled_*), which it
    must beat for the level's information to count; None for the other modes."""
    mode = get_mode(name)
    if mode.source in ("estimated", "true"):
        return next((other for other, candidate in MODES.items()
                     if candidate.degradation == mode.degradation
                     and candidate.source == "shuffled"), None)
    if mode.target == "true":
        return next((other for other, candidate in MODES.items()
                     if candidate.degradation == mode.degradation
                     and candidate.target == "shuffled"), None)
    return None


def image_only_modes(degradation):
    """The two image-only networks of `degradation`: the clean-trained one (org) and the one
    trained on degraded images (jpg, noisy), in that order (not the aux_* ones, which trained
    with a second output)."""
    return tuple(name for name, mode in MODES.items()
                 if mode.degradation in (None, degradation) and not mode.has_parameter
                 and mode.target is None)


def parameter_count(name):
    """Numbers in the parameter input of a network of mode `name` (0 for an image-only one)."""
    mode = get_mode(name)
    return degradations.parameter_count(mode.degradation) if mode.has_parameter else 0


def level_count(name):
    """Numbers that an aux_* network's second output regresses while training (0 for others)."""
    mode = get_mode(name)
    return degradations.parameter_count(mode.degradation) if mode.target else 0


def get_mode(name):
    if name not in MODES:
        raise ValueError(f"unknown mode {name!r}; choose from {', '.join(MODES)}")
    return MODES[name]
