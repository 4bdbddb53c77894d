"""Exceptions that name the culprit: the config key, the file or the column at fault."""


class NoisyPruneError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(NoisyPruneError):
    """A configuration value is invalid; the message names the dotted config key."""


class ArtifactError(NoisyPruneError):
    """An artifact file does not follow its contract; the message names the file and the column."""


class TrainingError(NoisyPruneError):
    """Training cannot go on (e.g. a non-finite loss); the message names the epoch and learner."""


class ParameterError(NoisyPruneError, ValueError):
    """A component was called with a parameter its declaration refuses; the message names the
    component and the parameter (:mod:`noisyprune.arguments`)."""
