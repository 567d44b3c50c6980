"""Graph optimizer: passes over tfjs_lite.ir graphs (installed as tfjs_lite.optimizer)."""
