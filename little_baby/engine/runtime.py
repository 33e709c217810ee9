"""What one pass through the model needs besides the weights: the backend, whether
dropout is on, and whether to hand back attention weights."""
from dataclasses import dataclass, field

from .backend import Backend


@dataclass
class Runtime:
    """Settings of one forward pass. `rng=None` means evaluation: no dropout."""

    backend: Backend
    rng: object = None  # the backend's random generator, while training
    p_drop: float = 0.0  # dropout probability, while training
    keep_attention: bool = False  # collect each layer's attention weights in `attention`
    attention: list = field(default_factory=list)  # one (B, n_heads, T, T_keys) array per layer

    @property
    def xp(self):
        return self.backend.xp

    def dropout_mask(self, shape):
        """A mask for ops.dropout_forward, or None when dropout is off."""
        if self.rng is None or self.p_drop == 0.0:
            return None
        return self.backend.dropout_mask(self.rng, shape, self.p_drop)

    def normal(self, shape, std):
        """Initial weights ~ N(0, std^2) in the model's float type (rng must be set)."""
        draw_dtype = "float64" if self.backend.dtype.itemsize == 8 else "float32"  # no fp16 draws
        return (self.rng.standard_normal(shape, dtype=draw_dtype) * std).astype(
            self.backend.dtype, copy=False)
