"""Parameters of the social-penetration simulator, moderator presets and scenario files (THEORY.md §4).

:class:`Params` is a frozen dataclass; every field is documented below and in ``docs/simulator.md``.
Moderators (culture, context, channel, relationship type) are ordinary fields with named presets
(:data:`PRESETS`), so a scenario is "moderator presets + overrides":

>>> p = Params.preset(culture="reserved", channel="online", relationship="casual", pace=0.2)

Scenario files (``scenarios/*.toml``)::

    name = "online_strangers"
    description = "..."
    [moderators]            # optional; preset names
    culture = "neutral"
    context = "neutral"
    channel = "online"
    relationship = "casual"
    [params]                # optional; any Params field
    pace = 0.2
    [simulation]            # optional defaults for the CLI
    n_dyads = 1000
    n_turns = 60
    seed = 0

:func:`load_scenario` validates every key and value and raises :class:`reciprocity.errors.InputError`
naming the file, the table and the key.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from reciprocity.errors import InputError, Problem


@dataclass(frozen=True)
class Params:
    """All parameters of the generative model. Units: depth 0–3, trust 0–1, intimacy 0–3, rates per turn."""

    # --- disclosure policy -------------------------------------------------------------------
    #: Logit intercept of the probability of disclosing (population openness baseline).
    disclosure_bias: float = -0.2
    #: Between-agent SD of the personal openness baseline (logit units).
    openness_sd: float = 0.5
    #: Reciprocity-norm strength rho in [0, 1]: weight of the partner's last depth in the target depth.
    reciprocity: float = 0.5
    #: Depth step per turn at full trust ("pace"); negative steps below the trust threshold (depenetration).
    pace: float = 0.6
    #: SD of the depth actually chosen around the target depth.
    depth_noise: float = 0.4
    #: Slope linking the target depth to the disclosure logit (deeper licence -> more willing to disclose).
    depth_willingness: float = 1.0
    #: Probability per turn of an over-deep disclosure (core depth regardless of licence).
    overshoot_rate: float = 0.01
    #: Extra overshoot probability per turn for agent A only (a "premature discloser") ...
    premature_rate: float = 0.0
    #: ... during the first ``premature_turns`` turns.
    premature_turns: int = 10
    #: Probability per turn a speaker stays on its own last topic (otherwise topic drawn by layer).
    topic_stickiness: float = 0.4
    # --- initial state and traits ------------------------------------------------------------
    #: Initial trust in the partner.
    trust0: float = 0.5
    #: Initial dyad intimacy (depth already licensed).
    intimacy0: float = 0.3
    #: Mean comfort margin: a listener tolerates depth up to intimacy + comfort.
    comfort_mean: float = 1.2
    #: Between-agent SD of the comfort margin.
    comfort_sd: float = 0.3
    # --- reactions and updates ----------------------------------------------------------------
    #: Trust below this level makes the depth step negative (slowing, then depenetration).
    trust_threshold: float = 0.35
    #: Trust gain when one's disclosure is returned (scaled by the matching index and 1 - trust).
    trust_gain: float = 0.2
    #: Trust loss per depth unit (/3) that one's disclosure was *not* returned.
    trust_loss: float = 0.06
    #: Trust loss of a listener per depth unit a disclosure exceeds their comfort zone.
    discomfort_penalty: float = 0.25
    #: Rate at which intimacy moves toward the depth of a reciprocated exchange.
    intimacy_rate: float = 0.35
    #: Intimacy decay per turn per unit of trust below the threshold (depenetration).
    depenetration_rate: float = 0.3
    #: Probability scale of a disclosure being misused by the listener (x depth/3, per disclosure).
    misuse_rate: float = 0.003
    #: Trust lost by the discloser on misuse/betrayal (intimacy shrinks by half this fraction).
    betrayal_severity: float = 0.5
    # --- who is in the conversation -------------------------------------------------------------
    #: Agents per conversation (2 = dyad; >2 = small group, round-robin turns).
    group_size: int = 2
    #: Logit shift applied to agent B's disclosure (very negative = a non-reciprocating partner).
    partner_openness_shift: float = 0.0
    #: From this turn on agent B stops disclosing (-1 = never): a withdrawn partner.
    partner_withdraw_turn: int = -1
    # --- moderators: culture ------------------------------------------------------------------
    #: Culture's openness norm (logit shift of disclosure).
    culture_openness: float = 0.0
    #: Culture's pace norm (multiplier of the depth step).
    culture_pace: float = 1.0
    # --- moderators: context ------------------------------------------------------------------
    #: Emotional safety in [0, 1]: raises disclosure, widens comfort, lowers misuse.
    safety: float = 0.5
    #: Power asymmetry in [0, 1]: agent A holds power (discloses less), agent B reciprocates more.
    power_asymmetry: float = 0.0
    # --- moderators: channel ------------------------------------------------------------------
    #: 1 = online / text-based, 0 = offline (fractions allowed for mixed channels).
    online: float = 0.0
    #: Online disinhibition: logit shift of disclosure and +half of it in target depth when online.
    disinhibition: float = 0.15
    #: Online boundary risk: multiplies overshoot and misuse by (1 + online * boundary_risk).
    boundary_risk: float = 1.0
    # --- moderators: relationship type ---------------------------------------------------------
    #: Depth ceiling of the licensed depth for this relationship type.
    ceiling: float = 2.4
    #: Escalation: multiplier of pace and overshoot (close ties go deep, with more risk).
    escalation: float = 1.0

    def __post_init__(self) -> None:
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"parameter {name!r} must be a finite number, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"parameter {name!r} = {value!r} is outside [{low}, {high}]")
        if not isinstance(self.group_size, int) or not 2 <= self.group_size <= 12:
            raise ValueError(f"parameter 'group_size' must be an integer from 2 to 12, got {self.group_size!r}")
        if not isinstance(self.partner_withdraw_turn, int) or self.partner_withdraw_turn < -1:
            raise ValueError("parameter 'partner_withdraw_turn' must be an integer >= -1")
        if not isinstance(self.premature_turns, int) or self.premature_turns < 0:
            raise ValueError("parameter 'premature_turns' must be an integer >= 0")

    # ------------------------------------------------------------------------------------------
    @classmethod
    def preset(cls, culture: str = "neutral", context: str = "neutral", channel: str = "offline",
               relationship: str = "friend", **overrides: Any) -> "Params":
        """Parameters from moderator preset names plus explicit overrides."""
        values: dict[str, Any] = {}
        for moderator, name in (("culture", culture), ("context", context), ("channel", channel),
                                ("relationship", relationship)):
            options = PRESETS[moderator]
            if name not in options:
                raise ValueError(f"unknown {moderator} preset {name!r}; choose from {sorted(options)}")
            values.update(options[name])
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> "Params":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Params))
INT_FIELDS = frozenset({"group_size", "partner_withdraw_turn", "premature_turns"})

#: Allowed range of every float parameter.
RANGES: dict[str, tuple[float, float]] = {
    "disclosure_bias": (-10, 10), "openness_sd": (0, 5), "reciprocity": (0, 1), "pace": (0, 2),
    "depth_noise": (0.01, 3), "depth_willingness": (0, 5), "overshoot_rate": (0, 1), "premature_rate": (0, 1),
    "topic_stickiness": (0, 1), "trust0": (0, 1), "intimacy0": (0, 3), "comfort_mean": (0, 3),
    "comfort_sd": (0, 3), "trust_threshold": (0, 0.95), "trust_gain": (0, 1), "trust_loss": (0, 3),
    "discomfort_penalty": (0, 3), "intimacy_rate": (0, 1), "depenetration_rate": (0, 5), "misuse_rate": (0, 1),
    "betrayal_severity": (0, 1), "partner_openness_shift": (-20, 20), "culture_openness": (-5, 5),
    "culture_pace": (0, 5), "safety": (0, 1), "power_asymmetry": (0, 1), "online": (0, 1),
    "disinhibition": (-5, 5), "boundary_risk": (0, 10), "ceiling": (0, 3), "escalation": (0, 5),
}

#: Moderator presets: moderator -> preset name -> the Params fields it sets.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "culture": {
        "neutral": {"culture_openness": 0.0, "culture_pace": 1.0},
        "open": {"culture_openness": 0.6, "culture_pace": 1.3},
        "reserved": {"culture_openness": -0.6, "culture_pace": 0.7},
    },
    "context": {
        "neutral": {"safety": 0.5, "power_asymmetry": 0.0},
        "supportive": {"safety": 0.85, "power_asymmetry": 0.0},
        "hierarchical": {"safety": 0.4, "power_asymmetry": 0.6},
        "unsafe": {"safety": 0.15, "power_asymmetry": 0.0},
    },
    "channel": {
        "offline": {"online": 0.0},
        "online": {"online": 1.0},
    },
    "relationship": {
        "casual": {"ceiling": 1.3, "escalation": 0.7, "trust0": 0.45, "intimacy0": 0.2},
        "professional": {"ceiling": 1.1, "escalation": 0.5, "trust0": 0.5, "intimacy0": 0.2},
        "friend": {"ceiling": 2.4, "escalation": 1.0, "trust0": 0.5, "intimacy0": 0.3},
        "close": {"ceiling": 3.0, "escalation": 1.2, "trust0": 0.65, "intimacy0": 1.0},
        "romantic": {"ceiling": 3.0, "escalation": 1.5, "trust0": 0.6, "intimacy0": 0.8},
    },
}

MODERATORS: tuple[str, ...] = tuple(PRESETS)
SIMULATION_KEYS = {"n_dyads": int, "n_turns": int, "seed": int}


@dataclass(frozen=True)
class Scenario:
    """A named parameter set with optional simulation defaults (from a TOML file)."""

    name: str
    params: Params
    description: str = ""
    n_dyads: int | None = None
    n_turns: int | None = None
    seed: int | None = None
    source: str = "<scenario>"


def _problem(source: str, table: str, key: str | None, message: str) -> InputError:
    return InputError(Problem(source, table, key, message))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file (errors name the file, table and key)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"scenario file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise _problem(source, "file", None, f"not valid TOML: {error}") from None
    return scenario_from_dict(data, source, default_name=path.stem)


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    """Validate a parsed scenario mapping (see module docstring for the layout)."""
    allowed_top = {"name", "description", "moderators", "params", "simulation"}
    for key in data:
        if key not in allowed_top:
            raise _problem(source, "top level", key, f"unknown key; allowed: {', '.join(sorted(allowed_top))}")
    name = data.get("name", default_name)
    description = data.get("description", "")
    for key, value in (("name", name), ("description", description)):
        if not isinstance(value, str):
            raise _problem(source, "top level", key, "must be a string")
    moderators = data.get("moderators", {})
    if not isinstance(moderators, dict):
        raise _problem(source, "top level", "moderators", "must be a table")
    chosen: dict[str, str] = {}
    for key, value in moderators.items():
        if key not in PRESETS:
            raise _problem(source, "[moderators]", key, f"unknown moderator; allowed: {', '.join(MODERATORS)}")
        if not isinstance(value, str) or value not in PRESETS[key]:
            raise _problem(source, "[moderators]", key,
                           f"unknown preset {value!r}; choose from {', '.join(sorted(PRESETS[key]))}")
        chosen[key] = value
    overrides = data.get("params", {})
    if not isinstance(overrides, dict):
        raise _problem(source, "top level", "params", "must be a table")
    for key, value in overrides.items():
        if key not in FIELD_NAMES:
            raise _problem(source, "[params]", key, "unknown parameter")
        if key in INT_FIELDS:
            if not isinstance(value, int) or isinstance(value, bool):
                raise _problem(source, "[params]", key, f"must be an integer, got {value!r}")
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _problem(source, "[params]", key, f"must be a number, got {value!r}")
        elif key in RANGES and not RANGES[key][0] <= value <= RANGES[key][1]:
            low, high = RANGES[key]
            raise _problem(source, "[params]", key, f"value {value!r} is outside [{low}, {high}]")
    overrides = {k: (float(v) if k not in INT_FIELDS else v) for k, v in overrides.items()}
    try:
        params = Params.preset(**chosen, **overrides)
    except ValueError as error:
        raise _problem(source, "[params]", None, str(error)) from None
    simulation = data.get("simulation", {})
    if not isinstance(simulation, dict):
        raise _problem(source, "top level", "simulation", "must be a table")
    sim_values: dict[str, int] = {}
    for key, value in simulation.items():
        if key not in SIMULATION_KEYS:
            raise _problem(source, "[simulation]", key, f"unknown key; allowed: {', '.join(SIMULATION_KEYS)}")
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "seed" else 1):
            raise _problem(source, "[simulation]", key, f"must be a positive integer, got {value!r}")
        sim_values[key] = value
    return Scenario(name=name, params=params, description=description, source=source, **sim_values)


def scenarios_dir() -> Path:
    """The repository's ``scenarios/`` folder (for named scenarios like ``"baseline"``)."""
    return Path(__file__).resolve().parents[3] / "scenarios"


def resolve_params(params_or_scenario: "Params | Scenario | str | Path | dict | None") -> Params:
    """Accept Params, a Scenario, a dict of fields, a TOML path or a scenario name in ``scenarios/``."""
    if params_or_scenario is None:
        return Params()
    if isinstance(params_or_scenario, Params):
        return params_or_scenario
    if isinstance(params_or_scenario, Scenario):
        return params_or_scenario.params
    if isinstance(params_or_scenario, dict):
        return Params(**params_or_scenario)
    return find_scenario(params_or_scenario).params


def find_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by file path, or by name (``baseline`` -> ``scenarios/baseline.toml``)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return load_scenario(path)
    candidate = scenarios_dir() / f"{name_or_path}.toml"
    if candidate.is_file():
        return load_scenario(candidate)
    available = sorted(p.stem for p in scenarios_dir().glob("*.toml")) if scenarios_dir().is_dir() else []
    raise FileNotFoundError(f"no scenario file {name_or_path!r} (named scenarios: {', '.join(available) or 'none'})")
